"""A new entity from sign-up to its first délégataire, in headless Chromium: a demandeur
creates an account from the public page and its e-mailed link, asks for a new entity on
a phone (a real PDF attestation, the caisse named by the postal code, a bad SIRET
refused next to its field), the caisse's instructor returns it with a comment, the
demandeur corrects and resubmits, the instructor validates; the demandeur, still logged
in, switches to gestionnaire of the new entity and adds a délégataire for one
accreditation, who sets a password from the e-mailed link and sees only that
accreditation in "Nouvelle session"."""

import re
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import expect
from sqlmodel import select

from app.models import Organization
from app.models.people import Role
from jobs.mail import deliver_outbox
from tests import factories
from tests.e2e.conftest import Journey

PHONE = {"width": 390, "height": 844}
WORDS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]
PASSWORD = "Rhin-prevention-2026"
DELEGATE_PASSWORD = "Sessions-sst-2026"


def _attestation_pdf(path):
    """A real one-page PDF, as an URSSAF attestation downloaded by the demandeur."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 770, "Attestation de vigilance URSSAF")
    pdf.drawString(72, 750, "RHIN PREVENTION FORMATION — SIRET 732 829 320 00074")
    pdf.save()
    return path


def _mailed_link(app, smtp_server, to: str) -> str:
    """The password link of the last mail sent to `to`, read from the real SMTP server."""
    with app.app_context():
        deliver_outbox()
    bodies = [m.get_body(("plain",)).get_content() for m in smtp_server.messages if m["To"] == to]
    links = [re.search(r"http://forprev\.test(/mot-de-passe/nouveau/\S+)", b) for b in bodies]
    links = [m.group(1) for m in links if m]
    assert links, f"aucun lien de mot de passe envoyé à {to}"
    return links[-1]


def _set_password(journey, link: str, password: str):
    page = journey.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Définir votre mot de passe")
    page.get_by_label("Nouveau mot de passe").fill(password)
    page.get_by_label("Confirmez le mot de passe").fill(password)
    page.get_by_role("button", name="Enregistrer mon mot de passe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Première connexion")
    journey.check("premiere-connexion")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tableau de bord")
    return page


def _login(journey, login: str, password: str):
    page = journey.goto("/connexion")
    page.get_by_label("E-mail ou numéro Forprev").fill(login)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Déconnexion")).to_be_visible()
    return page


def _menu(page, name: str):
    page.locator("nav.side-nav").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def _other_journey(browser, live_server, name: str, viewport: dict):
    context = browser.new_context(locale="fr-FR", viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, Journey(page, live_server, name)


def test_new_entity_from_signup_to_delegate(
    app, db, journey, browser, live_server, smtp_server, tmp_path
):
    instructor = factories.person(
        db, first_name="Hélène", last_name="KLEIN", email="helene.klein@carsat-am.fr"
    )
    factories.grant(db, instructor, Role.INSTRUCTEUR, fund_=factories.fund(db, "ALSACE-MOSELLE"))
    db.commit()
    app.config["SMTP_PORT"] = smtp_server.port
    attestation = _attestation_pdf(tmp_path / "attestation-urssaf.pdf")
    issued = (date.today() - timedelta(days=10)).strftime("%d/%m/%Y")
    demandeur = journey
    demandeur.page.set_viewport_size(PHONE)  # the demandeur does it all on a phone

    # --- sign-up from the public page, the account finished with the e-mailed link ---
    page = demandeur.goto("/connexion")
    page.get_by_role("link", name="Création d'un compte demandeur").click()
    page.locator("#last_name").fill("Muller")
    page.locator("#first_name").fill("Claire")
    page.get_by_label("Date de naissance").fill("03/09/1982")
    page.get_by_label("Adresse e-mail").fill("claire.muller@rhin-prevention.fr")
    page.get_by_label("J'accepte les conditions").check()
    a, b = re.search(
        r"Combien font (\S+) plus (\S+)", page.locator("#robot-question").inner_text()
    ).groups()
    page.get_by_label("Question anti-robot").fill(str(WORDS.index(a) + WORDS.index(b)))
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_role("status")).to_contain_text("Un e-mail vient d'être envoyé")
    demandeur.check("inscription-envoyee")
    link = _mailed_link(app, smtp_server, "claire.muller@rhin-prevention.fr")
    page = _set_password(demandeur, link, PASSWORD)
    demandeur.check("demandeur-tableau-de-bord")

    # --- step 1: a bad SIRET refused next to its field, the rest kept ---
    _menu(page, "Mes demandes en cours")
    page.get_by_role("link", name="+ Demande de nouvelle entité").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demande de nouvelle entité")
    demandeur.check("etape-1-vide")
    page.get_by_label("Type d'entité").select_option(label="Organisme de formation")
    page.get_by_label("Raison sociale").fill("RHIN PREVENTION")
    page.get_by_label("Régime").fill("Régime général")
    # the last digit is wrong: a bad checksum
    page.get_by_label("SIRET", exact=True).fill("732 829 320 00075")
    page.get_by_label("Numéro de déclaration d'activité").fill("42670123467")
    page.get_by_label("Attestation URSSAF", exact=True).set_input_files(attestation)
    page.get_by_label("Date de l'attestation URSSAF").fill(issued)
    page.get_by_label("Adresse", exact=True).fill("12 rue du Dôme")
    page.get_by_label("Code postal").press_sequentially("67000", delay=20)
    expect(page.locator("#caisse-instructrice")).to_have_text(
        "Caisse instructrice : Carsat Alsace-Moselle"
    )
    page.get_by_label("Ville").fill("Strasbourg")
    expect(page.locator("#siret-erreur")).to_contain_text("sa clé de contrôle est fausse")
    demandeur.check("etape-1-siret-verifie-en-direct")
    page.get_by_role("button", name="Suivant →").click()  # sent anyway: refused, values kept
    # the answer, not the page sent: nothing is stored, so the file is to be chosen again
    expect(page.get_by_label("Attestation URSSAF", exact=True)).to_have_value("")
    expect(page.locator("#siret-erreur")).to_have_text(
        "Ce SIRET n'existe pas : sa clé de contrôle est fausse. "
        "Vérifiez-le sur votre avis de situation Insee."
    )
    expect(page.get_by_label("SIRET", exact=True)).to_have_value("732 829 320 00075")
    expect(page.get_by_label("Raison sociale")).to_have_value("RHIN PREVENTION")
    expect(page.get_by_label("Date de l'attestation URSSAF")).to_have_value(issued)
    expect(page.get_by_label("Ville")).to_have_value("Strasbourg")
    expect(page.locator("#caisse-instructrice")).to_have_text(
        "Caisse instructrice : Carsat Alsace-Moselle"
    )
    assert db.exec(select(Organization).where(Organization.name == "RHIN PREVENTION")).all() == []
    demandeur.check("etape-1-siret-refuse")
    page.get_by_label("SIRET", exact=True).fill("732 829 320 00074")
    page.get_by_label("Attestation URSSAF", exact=True).set_input_files(
        attestation
    )  # nothing was kept
    page.get_by_role("button", name="Suivant →").click()

    # --- step 2: the signataire, then Soumettre ---
    expect(page.get_by_role("link", name="Étape 2 : Signataire")).to_have_attribute(
        "aria-current", "step"
    )
    page.get_by_label("Nom", exact=True).fill("MULLER")
    page.get_by_label("Prénom").fill("Claire")
    page.get_by_label("Fonction").fill("gérante")
    demandeur.check("etape-2-signataire")
    page.get_by_role("button", name="Soumettre").click()
    expect(page.get_by_role("status")).to_contain_text("envoyée à la caisse instructrice")
    row = page.locator("tbody tr", has_text="RHIN PREVENTION")
    expect(row).to_contain_text("Carsat Alsace-Moselle")
    expect(row).to_contain_text("Partie administrative en cours de validation")
    request_id = re.search(r"n° (\d+)", row.locator("a").inner_text()).group(1)
    demandeur.check("mes-demandes-soumise")

    # --- the instructor of the caisse of 67000 returns it with a comment ---
    instructor_context, caisse = _other_journey(
        browser, live_server, f"{journey.name}-instructeur", {"width": 1280, "height": 900}
    )
    try:
        ipage = _login(caisse, "helene.klein@carsat-am.fr", factories.PASSWORD)
        _menu(ipage, "Demandes à instruire")
        expect(ipage.get_by_role("heading", level=1)).to_contain_text("Carsat Alsace-Moselle")
        caisse.check("demandes-a-instruire")
        ipage.get_by_role("link", name=f"n° {request_id} : nouvelle entité RHIN PREVENTION").click()
        expect(ipage.get_by_role("heading", level=1)).to_contain_text(
            f"Demande de nouvelle entité n° {request_id}"
        )
        expect(ipage.get_by_role("main")).to_contain_text("73282932000074")
        with ipage.expect_download() as download:
            ipage.get_by_role("link", name="Télécharger l'attestation URSSAF").click()
        assert download.value.suggested_filename == "attestation-urssaf.pdf"
        assert Path(download.value.path()).read_bytes() == attestation.read_bytes()
        caisse.check("demande-a-instruire")
        comment = "La raison sociale doit être celle du Kbis : RHIN PREVENTION FORMATION."
        ipage.get_by_label("Commentaire pour le demandeur").fill(comment)
        ipage.get_by_role("button", name="Renvoyer au demandeur").click()
        expect(ipage.locator(".badge").first).to_contain_text("Renvoyée")
        caisse.check("demande-renvoyee")

        # --- the demandeur reads the comment beside the form, corrects, resubmits ---
        page.reload()
        row = page.locator("tbody tr", has_text="RHIN PREVENTION")
        expect(row).to_contain_text("Renvoyée : à corriger")
        row.get_by_role("link").click()
        expect(page.locator("aside.callout")).to_contain_text(comment)
        page.get_by_role("link", name="Modifier la demande").click()
        expect(page.locator("aside.callout")).to_contain_text(comment)
        expect(page.get_by_role("main")).to_contain_text(
            "Attestation URSSAF enregistrée : attestation-urssaf.pdf"
        )
        demandeur.check("demande-renvoyee-commentaire")
        page.get_by_label("Raison sociale").fill("RHIN PREVENTION FORMATION")
        page.get_by_role("button", name="Suivant →").click()
        expect(page.get_by_label("Fonction")).to_have_value("gérante")
        page.get_by_role("button", name="Soumettre").click()
        row = page.locator("tbody tr", has_text="RHIN PREVENTION FORMATION")
        expect(row).to_contain_text("Partie administrative en cours de validation")
        demandeur.check("mes-demandes-resoumise")

        # --- the instructor validates ---
        ipage.reload()
        expect(ipage.get_by_role("heading", level=1)).to_contain_text("RHIN PREVENTION FORMATION")
        ipage.get_by_role("button", name="Valider").click()
        expect(ipage.get_by_role("status")).to_contain_text(
            "La demande est validée : l'entité RHIN PREVENTION FORMATION a le code"
        )
        caisse.check("demande-validee")
    finally:
        instructor_context.close()
    assert caisse.problems == [], caisse.problems

    # Accreditation requests are a later issue: the new entity's two accreditations are
    # inserted here directly, with the test factories.
    org = db.exec(select(Organization).where(Organization.id == int(request_id))).one()
    sst = factories.accreditation(db, org, scheme_code="SST", level=1)
    factories.accreditation(db, org, scheme_code="PRAP-IBC", level=1)
    db.commit()

    # --- still logged in, the demandeur becomes gestionnaire in the header ---
    page.reload()
    expect(page.locator("tbody tr", has_text="RHIN PREVENTION FORMATION")).to_contain_text(
        "Dossier administratif validé"
    )
    switcher = page.get_by_label("Rôle")
    switcher.select_option(label="Gestionnaire — RHIN PREVENTION FORMATION")
    page.get_by_role("button", name="Changer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Gestionnaire — RHIN PREVENTION FORMATION"
    )
    expect(switcher.locator("option:checked")).to_have_text(
        "Gestionnaire — RHIN PREVENTION FORMATION"
    )
    demandeur.check("gestionnaire-tableau-de-bord")

    # --- Utilisateurs: a new délégataire for the SST accreditation only ---
    _menu(page, "Utilisateurs")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Gestionnaire")
    adding = page.get_by_role("region", name="Ajouter un utilisateur")
    adding.get_by_role("textbox", name="Nom", exact=True).fill("Schmitt")
    adding.get_by_label("Prénom").fill("Lucas")
    adding.get_by_label("Date de naissance").fill("21/06/1990")
    adding.get_by_label("Adresse e-mail").fill("lucas.schmitt@rhin-prevention.fr")
    adding.get_by_label("Rôle").select_option(label="Délégataire")
    adding.get_by_label(f"SST / 1 — {sst.number}").check()
    demandeur.check("utilisateurs-ajout")
    adding.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_role("status")).to_contain_text("est ajouté(e) comme délégataire")
    row = page.locator("tbody tr", has_text="lucas.schmitt@rhin-prevention.fr")
    expect(row).to_contain_text("Délégataire")
    expect(row).to_contain_text(f"SST / 1 — {sst.number}")
    expect(row).not_to_contain_text("PRAP-IBC")
    demandeur.check("utilisateurs-delegataire-ajoute")

    # --- the délégataire sets a password from the e-mailed link, logs in ---
    delegate_context, delegate = _other_journey(
        browser, live_server, f"{journey.name}-delegataire", PHONE
    )
    try:
        link = _mailed_link(app, smtp_server, "lucas.schmitt@rhin-prevention.fr")
        dpage = _set_password(delegate, link, DELEGATE_PASSWORD)
        dpage.get_by_role("button", name="Déconnexion").click()
        expect(dpage).to_have_url(delegate.base_url + "/connexion")
        dpage = _login(delegate, "lucas.schmitt@rhin-prevention.fr", DELEGATE_PASSWORD)
        expect(dpage.locator(".role-single")).to_have_text(
            "Délégataire — RHIN PREVENTION FORMATION"
        )
        delegate.check("tableau-de-bord")
        _menu(dpage, "Habilitations")
        expect(dpage.locator("tbody tr")).to_have_count(1)
        expect(dpage.locator("tbody tr")).to_contain_text(sst.number)
        delegate.check("habilitations")
        _menu(dpage, "Sessions de certification")
        dpage.get_by_role("link", name="+ Nouvelle session").click()
        expect(dpage.get_by_role("heading", level=1)).to_contain_text("Nouvelle session")
        offered = dpage.get_by_label("Dispositif et niveau").locator("option").all_inner_texts()
        assert [o.split(" — ")[0] for o in offered[1:]] == ["SST / 1"], offered
        delegate.check("nouvelle-session")
    finally:
        delegate_context.close()
    assert delegate.problems == [], delegate.problems
