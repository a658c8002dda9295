"""An accreditation from the request to the first session, in headless Chromium: a
gestionnaire asks for CATEC / 1 (the commitment letter downloaded and signed back, the
programmes, the technical documents, equipment and a fixed platform whose bad postal code
is refused next to its field), the caisse's instructor sends it back with a comment, the
entity fixes it and resubmits, the instructor completes phases 1 and 2, the administrator
records the CNH's favourable decision (a missing start date refused next to its field),
both gestionnaires get the decision letter by e-mail, and the gestionnaire, on a phone,
declares a session whose lieu is the approved platform."""

import io
import re
from pathlib import Path

from playwright.sync_api import expect
from pypdf import PdfReader
from sqlmodel import select

from app.clock import today
from app.models import Accreditation, AccreditationRequest
from app.models.accreditations import RequestPhase
from app.models.people import Role
from jobs.mail import deliver_outbox
from tests import factories
from tests.e2e.conftest import Journey

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ENTITY = "HAUTEURS ET PUITS D'ALSACE"
PLATFORM = "Plateforme du Port du Rhin"
CATEC_1 = "CATEC / 1 — Travail en espaces confinés — assainissement"


def _pdf(path: Path, *lines: str) -> Path:
    """A real one-page PDF, as the entity would scan or export it."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    for i, line in enumerate(lines):
        pdf.drawString(72, 770 - 20 * i, line)
    pdf.save()
    return path


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def _login(journey, email: str):
    page = journey.goto("/connexion")
    page.get_by_label("E-mail ou numéro Forprev").fill(email)
    page.get_by_label("Mot de passe").fill(factories.PASSWORD)
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


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")


def _deposit(page, label: str, *files: Path):
    """Choose the file(s) of the document asked for as `label`, then its own button."""
    block = page.locator(".document-block", has=page.get_by_label(label, exact=True))
    block.get_by_label(label, exact=True).set_input_files([str(f) for f in files])
    block.locator("button[type=submit]").first.click()
    if len(files) > 1:
        _said(page, f"{len(files)} fichiers déposés")
    else:
        _said(page, f"« {label} » : fichier déposé.")
    for f in files:
        expect(page.locator(".document-block", has_text=f.name)).to_be_visible()


def _said(page, text: str):
    """A status message saying `text` (the page's flash or the tabs' own message)."""
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def _phase(db, request_id: int) -> str:
    db.expire_all()
    return db.get(AccreditationRequest, request_id).phase


def test_catec_request_to_decision_to_first_session(
    app, db, journey, browser, live_server, smtp_server, tmp_path
):
    org = factories.organization(db, name=ENTITY, postal_code="67100")
    org.signatory_last_name, org.signatory_first_name = "KOENIG", "Aurélie"
    org.signatory_function = "Directrice"
    org.siret, org.regime = "73282932000074", "Régime général"
    org.activity_number = "42670000067"
    db.add(org)
    alsace = factories.fund(db, "ALSACE-MOSELLE")
    first = factories.person(
        db, first_name="Camille", last_name="SCHNEIDER", email="camille@hauteurs-alsace.fr"
    )
    second = factories.person(
        db, first_name="Théo", last_name="WAGNER", email="theo@hauteurs-alsace.fr"
    )
    for manager in (first, second):
        factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    instructor = factories.person(
        db, first_name="Hélène", last_name="KLEIN", email="helene.klein@carsat-am.fr"
    )
    factories.grant(db, instructor, Role.INSTRUCTEUR, fund_=alsace)
    admin = factories.person(db, first_name="Adrien", last_name="NATIONAL", email="adrien@inrs.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    app.config["SMTP_PORT"] = smtp_server.port
    letter = _pdf(
        tmp_path / "lettre-engagement-signee.pdf",
        "Lettre d'engagement signée",
        f"{ENTITY} — Aurélie KOENIG, directrice",
    )
    programme = _pdf(tmp_path / "programme-catec.pdf", "Programme CATEC intervenant")
    programme_v2 = _pdf(tmp_path / "programme-catec-v2.pdf", "Programme CATEC 2 jours")
    deroule = _pdf(tmp_path / "deroule-catec.pdf", "Déroulé pédagogique CATEC")
    materiel = _pdf(tmp_path / "entretien-materiel.pdf", "Entretien du matériel")
    recap = _pdf(tmp_path / "recapitulatif-materiel.pdf", "Tableau récapitulatif")
    dossier = _pdf(tmp_path / "dossier-technique.pdf", "Pièces du dossier technique")
    gestionnaire = journey

    # --- Habilitations → "Demande d'habilitation": the request opens on Informations ---
    page = _login(gestionnaire, "camille@hauteurs-alsace.fr")
    _menu(page, "Habilitations")
    expect(page.get_by_role("main")).to_contain_text("Aucune habilitation.")
    gestionnaire.check("habilitations-vides")
    page.get_by_role("button", name="Demande d'habilitation").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Demande d'habilitation n°")
    request_id = int(re.search(r"/habilitations/demandes/(\d+)/informations$", page.url).group(1))
    expect(page.get_by_role("tab", name="Informations")).to_have_attribute("aria-selected", "true")
    steps = page.get_by_role("list", name="Avancement de la demande").get_by_role("listitem")
    expect(steps).to_have_count(4)
    expect(steps).to_have_text(
        [
            re.compile("Étape 1 : Dossier administratif complet"),
            re.compile("Étape 2 : Instruction en cours phase 1"),
            re.compile("Étape 3 : Instruction en cours phase 2"),
            re.compile("Étape 4 : Décision CNH en cours"),
        ]
    )
    panel = page.locator("#panneau")
    expect(panel).to_contain_text("theo@hauteurs-alsace.fr")
    expect(panel).to_contain_text("camille@hauteurs-alsace.fr")
    expect(panel).to_contain_text("Carsat Alsace-Moselle")
    expect(page.locator("#reste-a-faire")).to_contain_text(
        "Pédagogique : choisissez le dispositif et le niveau."
    )
    gestionnaire.check("demande-informations")
    page.get_by_label("Mon commentaire").fill("Première demande CATEC de l'entité.")

    # --- Pédagogique: CATEC / 1 (the inline check), the letter to sign, the documents ---
    _tab(page, "Pédagogique")  # moving on saves the comment as a draft
    _said(page, "Onglet Informations enregistré.")
    with page.expect_response(re.compile(r"/pedagogique/verifier$")) as checked:
        page.get_by_label("Dispositif et niveau").select_option(label=CATEC_1)
    # the inline check answers with the field alone: no message, the choice kept
    assert checked.value.status == 200
    expect(page.locator("#scheme_level_id-champ")).not_to_have_class(re.compile("field-invalid"))
    expect(page.get_by_label("Dispositif et niveau")).to_have_value(
        str(factories.scheme_level(db, "CATEC", 1).id)
    )
    gestionnaire.check("pedagogique-dispositif-choisi")
    page.locator("#form-brouillon").get_by_role("button", name="Enregistrer").click()
    _said(page, "Onglet Pédagogique enregistré.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("CATEC / 1")
    # Technique shows up for CATEC
    expect(page.get_by_role("tab", name="Technique")).to_be_visible()
    _tab(page, "Pédagogique")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger la lettre d'engagement à signer").click()
    assert download.value.suggested_filename == f"lettre-engagement-demande-{request_id}.pdf"
    to_sign = Path(download.value.path()).read_bytes()
    assert to_sign.startswith(b"%PDF-")
    words = _text(to_sign)
    assert ENTITY in words, words
    assert "CATEC" in words and "KOENIG" in words, words
    _deposit(page, "Lettre d'engagement signée", letter)
    _deposit(page, "Programmes de formation", programme)
    _deposit(page, "Déroulés pédagogiques", deroule)
    gestionnaire.check("pedagogique-documents-deposes")
    page.set_viewport_size(PHONE)
    gestionnaire.check("pedagogique-documents-deposes-telephone")
    page.set_viewport_size(DESKTOP)

    # --- Soumettre too early: the tab and the document named ---
    _tab(page, "Informations")
    missing = page.locator("#reste-a-faire")
    expect(missing).to_contain_text(
        "Technique : déposez « Acquisition, utilisation et entretien du matériel »."
    )
    page.get_by_role("button", name="Soumettre").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "La demande ne peut pas encore être soumise : Technique : déposez « Acquisition, "
        "utilisation et entretien du matériel »."
    )
    expect(page.get_by_label("Mon commentaire")).to_have_value(
        "Première demande CATEC de l'entité."
    )
    assert _phase(db, request_id) == RequestPhase.DRAFT
    gestionnaire.check("soumettre-refuse")

    # --- Technique: documents, equipment, a fixed platform (a bad postal code first) ---
    _tab(page, "Technique")
    _deposit(page, "Acquisition, utilisation et entretien du matériel", materiel)
    _deposit(page, "Tableau récapitulatif du matériel", recap)
    _deposit(page, "Pièces du dossier technique", dossier)
    adding = page.locator("form", has=page.get_by_role("button", name="Ajouter le matériel"))
    adding.get_by_label("Matériel", exact=True).fill("Détecteur 4 gaz")
    adding.get_by_label("Quantité").fill("6")
    adding.get_by_label("Description (facultatif)").fill("Étalonnés chaque année")
    adding.get_by_role("button", name="Ajouter le matériel").click()
    _said(page, "Matériel « Détecteur 4 gaz » ajouté.")
    expect(page.get_by_role("table", name="Matériel déclaré")).to_contain_text("Détecteur 4 gaz")
    platform = page.locator("form", has=page.get_by_role("button", name="Ajouter la plateforme"))
    platform.get_by_label("Nom de la plateforme").fill(PLATFORM)
    platform.get_by_label("Adresse").fill("4 rue du Havre")
    platform.get_by_label("Code postal").fill("67")
    platform.get_by_label("Ville").fill("Strasbourg")
    platform.get_by_role("button", name="Ajouter la plateforme").click()
    postal = page.get_by_label("Code postal")
    expect(postal).to_have_attribute("aria-invalid", "true")
    expect(postal).to_be_focused()  # the keyboard is on the field to correct
    error_id = postal.get_attribute("aria-describedby").split()
    expect(page.locator("#plateforme-postal_code-erreur")).to_have_text(
        "Le code postal a 5 chiffres, par exemple 67000."
    )
    assert "plateforme-postal_code-erreur" in error_id, error_id
    expect(page.get_by_label("Nom de la plateforme")).to_have_value(PLATFORM)
    expect(page.get_by_label("Adresse")).to_have_value("4 rue du Havre")
    expect(page.get_by_label("Ville")).to_have_value("Strasbourg")
    expect(page.get_by_label("Code postal")).to_have_value("67")
    expect(page.get_by_role("table", name="Plateformes pédagogiques fixes")).to_contain_text(
        "Aucune plateforme fixe"
    )
    gestionnaire.check("technique-code-postal-refuse")
    page.set_viewport_size(PHONE)  # the same tab on a phone: tables scroll in their box
    gestionnaire.check("technique-code-postal-refuse-telephone")
    page.set_viewport_size(DESKTOP)
    page.get_by_label("Code postal").fill("67100")
    page.get_by_role("button", name="Ajouter la plateforme").click()
    _said(page, f"Plateforme « {PLATFORM} » ajoutée.")
    platforms = page.get_by_role("table", name="Plateformes pédagogiques fixes")
    expect(platforms).to_contain_text(PLATFORM)
    expect(platforms).to_contain_text("67100")
    gestionnaire.check("technique-complet")

    # --- Soumettre ---
    _tab(page, "Informations")
    expect(page.get_by_text("La demande est complète")).to_be_visible()
    page.get_by_role("button", name="Soumettre").click()
    _said(page, "Votre demande est soumise")
    expect(page.locator("[aria-current=step]")).to_contain_text("Dossier administratif complet")
    assert _phase(db, request_id) == RequestPhase.FILE_COMPLETE
    gestionnaire.check("demande-soumise")

    # --- the instructor of Carsat Alsace-Moselle sends it back with a comment ---
    comment = "Le programme doit indiquer la durée de la formation (2 jours)."
    instructor_context, caisse = _other_journey(
        browser, live_server, f"{journey.name}-instructeur", DESKTOP
    )
    try:
        ipage = _login(caisse, "helene.klein@carsat-am.fr")
        _menu(ipage, "Demandes à instruire")
        caisse.check("demandes-a-instruire")
        ipage.get_by_role(
            "link", name=f"n° {request_id} : demande d'habilitation de {ENTITY}"
        ).click()
        expect(ipage.get_by_role("heading", level=1)).to_contain_text(
            f"Demande d'habilitation n° {request_id} CATEC / 1"
        )
        # the caisse reads the entity's request, not its own
        expect(ipage.get_by_role("heading", level=2, name="La demande de l'entité")).to_be_visible()
        expect(ipage.locator("#panneau")).to_contain_text("Première demande CATEC de l'entité.")
        caisse.check("demande-a-instruire")
        ipage.get_by_role("button", name="Commencer l'instruction").click()
        _said(ipage, "la demande est en phase 1")
        expect(ipage.locator("[aria-current=step]")).to_contain_text("Instruction en cours phase 1")
        _tab(ipage, "Pédagogique")
        with ipage.expect_download() as download:
            ipage.get_by_role("link", name="programme-catec.pdf").click()
        assert Path(download.value.path()).read_bytes() == programme.read_bytes()
        ipage.get_by_label("Ce que l'entité doit compléter ou corriger").fill(comment)
        caisse.check("instruction-phase-1")
        ipage.get_by_role("button", name="Incomplet : renvoyer à l'entité").click()
        _said(ipage, "Demande renvoyée à l'entité")
        assert _phase(db, request_id) == RequestPhase.RETURNED
        caisse.check("demande-renvoyee")

        # --- the entity reads the comment, replaces the programme, resubmits ---
        page.reload()
        expect(page.get_by_role("note")).to_contain_text(comment)
        gestionnaire.check("demande-renvoyee-commentaire")
        _tab(page, "Pédagogique")
        programmes = page.locator(".document-block", has_text="programme-catec.pdf")
        programmes.get_by_role("button", name="Retirer programme-catec.pdf").click()
        _said(page, "Document retiré de la demande.")
        expect(page.get_by_role("link", name="programme-catec.pdf")).to_have_count(0)
        _deposit(page, "Programmes de formation", programme_v2)
        _tab(page, "Informations")
        page.get_by_role("button", name="Soumettre").click()
        _said(page, "Votre demande est soumise")
        expect(page.locator("[aria-current=step]")).to_contain_text("Instruction en cours phase 1")
        assert _phase(db, request_id) == RequestPhase.PHASE_1
        gestionnaire.check("demande-resoumise")

        # --- phase 1 complete, phase 2 complete ---
        ipage.reload()
        _tab(ipage, "Pédagogique")
        expect(ipage.get_by_role("link", name="programme-catec-v2.pdf")).to_be_visible()
        _tab(ipage, "Informations")
        ipage.get_by_role("button", name="Phase 1 complète : passer en phase 2").click()
        _said(ipage, "la demande passe en phase 2")
        caisse.check("instruction-phase-2")
        ipage.get_by_role("button", name="Phase 2 complète : transmettre à la CNH").click()
        _said(ipage, "transmise à la CNH")
        expect(ipage.locator("[aria-current=step]")).to_contain_text("Décision CNH en cours")
        assert _phase(db, request_id) == RequestPhase.CNH
        caisse.check("transmise-cnh")
    finally:
        instructor_context.close()
    assert caisse.problems == [], caisse.problems

    # --- the administrator records the CNH's favourable decision ---
    admin_context, cnh = _other_journey(browser, live_server, f"{journey.name}-admin", DESKTOP)
    try:
        apage = _login(cnh, "adrien@inrs.fr")
        apage.get_by_role("link", name="Demandes en décision CNH").click()
        apage.get_by_role(
            "link", name=f"n° {request_id} : demande d'habilitation de {ENTITY}"
        ).click()
        expect(apage.get_by_role("heading", name="Décision de la CNH")).to_be_visible()
        cnh.check("decision-cnh")
        approval = apage.get_by_label(f"Date d'approbation CNH de « {PLATFORM} »")
        day = today().strftime("%d/%m/%Y")
        approval.fill(day)
        apage.get_by_role("button", name="Enregistrer la décision favorable").click()
        start = apage.get_by_label("Date de début de l'habilitation")
        expect(start).to_have_attribute("aria-invalid", "true")
        expect(start).to_be_focused()
        expect(apage.locator("#decision-debut-erreur")).not_to_be_empty()
        expect(approval).to_have_value(day)
        assert _phase(db, request_id) == RequestPhase.CNH
        cnh.check("decision-sans-date")
        start.fill(day)
        apage.get_by_role("button", name="Enregistrer la décision favorable").click()
        _said(apage, "Décision favorable enregistrée")
        expect(apage).to_have_url(re.compile(r"/habilitations/\d+/general$"))
        expect(apage.get_by_role("tab", name="Général")).to_have_attribute("aria-selected", "true")
        acc = db.exec(select(Accreditation).where(Accreditation.request_id == request_id)).one()
        assert re.fullmatch(rf"H{org.code}/{today().year}/CATEC-1/[OECA]/\d\d", acc.number)
        main = apage.get_by_role("main")
        expect(main).to_contain_text(acc.number)
        expect(main.locator("dt:text-is('Date de début') + dd")).to_have_text(day)
        expect(main.locator("dt:text-is('Date de fin') + dd")).to_have_text(
            f"{acc.end_date:%d/%m/%Y}"
        )
        assert acc.start_date == today() and acc.end_date.year == today().year + 5
        with apage.expect_download() as download:
            apage.get_by_role("link", name="Télécharger la lettre de décision").click()
        assert acc.number in _text(Path(download.value.path()).read_bytes())
        cnh.check("habilitation-creee")
    finally:
        admin_context.close()
    assert cnh.problems == [], cnh.problems

    # --- both gestionnaires got the decision letter, attached ---
    with app.app_context():
        assert deliver_outbox()["failed"] == 0
    decisions = [m for m in smtp_server.messages if m["Subject"].endswith(f"{acc.number} accordée")]
    assert sorted(m["To"] for m in decisions) == [
        "camille@hauteurs-alsace.fr",
        "theo@hauteurs-alsace.fr",
    ]
    for message in decisions:
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert acc.number in _text(attachment.get_content())

    # --- on a phone, the gestionnaire declares a session at the approved platform ---
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_role("note")).to_contain_text(acc.number)
    gestionnaire.check("demande-favorable-telephone")
    page.get_by_role("link", name=acc.number).click()
    _tab(page, "Technique")
    approved = page.locator("#panneau tr", has_text=PLATFORM)
    expect(approved).to_contain_text(today().strftime("%d/%m/%Y"))
    gestionnaire.check("habilitation-technique-telephone")
    _menu(page, "Sessions de certification")
    page.get_by_role("link", name="+ Nouvelle session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nouvelle session")
    choice = page.get_by_label("Dispositif et niveau")
    (catec,) = [o for o in choice.locator("option").all_inner_texts() if o.startswith("CATEC / 1")]
    choice.select_option(label=catec)
    lieu = page.get_by_label("Lieu de formation (plateforme pédagogique)")
    expect(lieu).to_be_visible()
    offered = lieu.locator("option").all_inner_texts()
    assert offered[1:] == [f"{PLATFORM} — 67100 Strasbourg"], offered
    lieu.select_option(label=f"{PLATFORM} — 67100 Strasbourg")
    gestionnaire.check("nouvelle-session-plateforme")
