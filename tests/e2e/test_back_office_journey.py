"""A trainer qualified outside Forprev, in headless Chromium: the gestionnaire of an entity
holding CATEC / 2 declares a session and the trainer check refuses the trainer (no
"formateur de formateurs CATEC"); the administrator finds the trainer under "Personnes"
(accents and case ignored), records INRS's qualification (an end before the start refused
next to its field), and on a phone the gestionnaire runs the check again: it passes."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from app.clock import today
from app.models import Platform
from app.models.people import Role
from tests import factories

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PLATFORM = "Plateforme du Port du Rhin"
MODEL = "Certificat de formateur de formateurs CATEC"


def _journey(browser, live_server, name, viewport):
    from tests.e2e.conftest import Journey

    context = browser.new_context(locale="fr-FR", viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, Journey(page, live_server, name)


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


def _check_trainer(page, number: str):
    page.get_by_label("Numéro Forprev").fill(number)
    page.get_by_role("button", name="Lancer la vérification").click()


def test_a_qualification_recorded_by_the_administrator_lets_the_trainer_run_catec_2(
    app, db, browser, live_server
):
    org = factories.organization(db, name="HAUTEURS ET PUITS D'ALSACE")
    catec2 = factories.accreditation(db, org, scheme_code="CATEC", level=2)
    db.add(
        Platform(
            accreditation_id=catec2.id,
            name=PLATFORM,
            address="1 rue du Port",
            postal_code="67100",
            city="Strasbourg",
            cnh_approved_on=today() - timedelta(days=30),
        )
    )
    manager = factories.person(db, first_name="Karine", email="karine@exemple.fr")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    trainer = factories.person(
        db,
        first_name="Sébastien",
        last_name="LEFÈVRE",
        email="sebastien@exemple.fr",
        forprev_number="SEB00001",
    )
    factories.grant(db, trainer, Role.FORMATEUR)
    factories.trainer_certificate(db, trainer, scheme_code="CATEC", level=2)
    admin = factories.person(db, first_name="Hélène", last_name="BERNARD", email="a@inrs.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()

    # the gestionnaire declares CATEC / 2: the trainer holds the level-2 certificate only
    context, gestionnaire = _journey(browser, live_server, "back-office-gestionnaire", DESKTOP)
    page = _login(gestionnaire, "karine@exemple.fr")
    _menu(page, "Sessions de certification")
    page.get_by_role("link", name="+ Nouvelle session").click()
    choice = page.get_by_label("Dispositif et niveau")
    (label,) = [o for o in choice.locator("option").all_inner_texts() if o.startswith("CATEC / 2")]
    choice.select_option(label=label)
    models = page.get_by_label("Certificat à éditer")
    expect(models).to_contain_text("Certificat de formateur CATEC")
    # INRS's qualification is never a session's certificate
    expect(models).not_to_contain_text(MODEL)
    models.select_option(label="Certificat de formateur CATEC (36 mois)")
    page.get_by_label("Lieu de formation (plateforme pédagogique)").select_option(
        label=f"{PLATFORM} — 67100 Strasbourg"
    )
    page.get_by_label("Stage initial").check()
    page.get_by_label("Date de fin de session").fill(today().strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Suivant →").click()
    expect(page.get_by_role("tab", name="Formateur")).to_have_attribute("aria-selected", "true")
    session_url = page.url
    _check_trainer(page, "SEB00001")
    expect(page.locator(".checks .check-ko")).to_contain_text(
        f"Cette personne ne détient pas de « {MODEL} » : elle ne peut pas animer une session "
        "CATEC niveau 2."
    )
    gestionnaire.check("formateur-refuse-catec-2")
    context.close()

    # the administrator records INRS's qualification on the trainer's account
    context, administrateur = _journey(browser, live_server, "back-office-admin", DESKTOP)
    page = _login(administrateur, "a@inrs.fr")
    _menu(page, "Personnes")
    page.get_by_label("Nom, prénom, e-mail, numéro Forprev ou date de naissance").fill(
        "lefevre seb"
    )
    page.get_by_role("button", name="Rechercher").click()
    results = page.locator("#personnes-resultats")
    expect(results).to_contain_text("SEB00001")
    administrateur.check("personnes-recherche")
    results.get_by_role("link", name=re.compile("LEFÈVRE")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("LEFÈVRE")
    expect(page.locator("body")).to_contain_text("Certificat de formateur CATEC")
    administrateur.check("fiche-personne")
    page.get_by_role("link", name="Ajouter une qualification").click()
    obtained = page.get_by_label("Certificat obtenu")
    (option,) = [o for o in obtained.locator("option").all_inner_texts() if o.startswith(MODEL)]
    obtained.select_option(label=option)
    start = today() - timedelta(days=60)
    page.get_by_label("Début de validité").fill(start.strftime("%d/%m/%Y"))
    page.get_by_label("Fin de validité").fill((start - timedelta(days=1)).strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Enregistrer la qualification").click()
    expect(page.locator("#valid_until-erreur")).to_be_visible()
    # what was typed is kept
    expect(page.get_by_label("Début de validité")).to_have_value(start.strftime("%d/%m/%Y"))
    administrateur.check("qualification-fin-refusee")
    page.get_by_label("Fin de validité").fill("")
    page.get_by_label("Note (facultative)").fill("Session INRS de formateurs de formateurs.")
    page.get_by_role("button", name="Enregistrer la qualification").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("LEFÈVRE")
    qualifications = page.locator("section[aria-labelledby=qualifications-titre]")
    expect(qualifications).to_contain_text(MODEL)
    administrateur.check("qualification-enregistree")
    context.close()

    # on a phone, the gestionnaire runs the check again: four ticks
    context, telephone = _journey(browser, live_server, "back-office-telephone", PHONE)
    page = _login(telephone, "karine@exemple.fr")
    page.goto(session_url)
    _check_trainer(page, "SEB00001")
    expect(page.locator(".checks li")).to_have_count(4)
    # every line ticked (a refused one says why in the assertion's message)
    expect(page.locator(".checks .check-ko")).to_have_count(0)
    expect(page.locator(".checks .check-ok")).to_have_count(4)
    expect(page.locator(".checks")).to_contain_text(MODEL)
    telephone.check("formateur-verifie-telephone")
    context.close()
    for run in (gestionnaire, administrateur, telephone):
        assert run.problems == [], run.problems


def test_a_date_typed_while_the_platform_is_checked_is_kept(app, db, journey):
    """The lieu's inline check answers slowly (a busy server): the end date typed and the
    box ticked meanwhile stay; the platform fills the empty postal code and town."""
    org = factories.organization(db, name="HAUTEURS ET PUITS D'ALSACE")
    catec1 = factories.accreditation(db, org, scheme_code="CATEC", level=1)
    db.add(
        Platform(
            accreditation_id=catec1.id,
            name=PLATFORM,
            address="1 rue du Port",
            postal_code="67100",
            city="Strasbourg",
            cnh_approved_on=today() - timedelta(days=30),
        )
    )
    manager = factories.person(db, first_name="Karine", email="karine@exemple.fr")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    db.commit()
    page = _login(journey, "karine@exemple.fr")
    journey.goto("/sessions/nouvelle")
    choice = page.get_by_label("Dispositif et niveau")
    (label,) = [o for o in choice.locator("option").all_inner_texts() if o.startswith("CATEC / 1")]
    choice.select_option(label=label)
    lieu = page.get_by_label("Lieu de formation (plateforme pédagogique)")
    expect(lieu).to_be_visible()

    def slowly(route):
        page.wait_for_timeout(1500)
        route.continue_()

    page.route("**/verifier", slowly)
    lieu.select_option(label=f"{PLATFORM} — 67100 Strasbourg")
    page.get_by_label("Stage initial").check()
    end = today().strftime("%d/%m/%Y")
    page.get_by_label("Date de fin de session").fill(end)
    expect(page.get_by_label("Code postal")).to_have_value("67100", timeout=10_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(2000)
    expect(page.get_by_label("Date de fin de session")).to_have_value(end)
    expect(page.get_by_label("Stage initial")).to_be_checked()
    expect(lieu).to_have_value(re.compile(r"\d+"))
    journey.check("lieu-verifie-lentement")
