"""The heart of the product across roles, in headless Chromium: the gestionnaire declares,
the trainer validates one Réussite and one Échec, the gestionnaire sends it back for a
change, the trainer sends again, the gestionnaire generates the certificates."""

import re
from datetime import date

from playwright.sync_api import expect

from app.models.people import Role
from jobs.certificates import generate_certificates
from tests import factories


def _login(journey, email):
    page = journey.goto("/connexion")
    page.get_by_label("E-mail ou numéro Forprev").fill(email)
    page.get_by_label("Mot de passe").fill(factories.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Déconnexion")).to_be_visible()
    return page


def _logout(page):
    page.get_by_role("button", name="Déconnexion").click()


def test_declare_validate_return_generate(app, db, journey):
    org = factories.organization(db, name="MAROSE FORMATION")
    factories.accreditation(db, org, scheme_code="PRAP-IBC", level=1)
    manager = factories.person(db, first_name="Karine", email="karine@exemple.fr")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    trainer = factories.person(
        db,
        first_name="Stéphanie",
        last_name="WEBER",
        email="stephanie@exemple.fr",
        forprev_number="STE55501",
    )
    factories.grant(db, trainer, Role.FORMATEUR)
    factories.trainer_certificate(db, trainer, scheme_code="PRAP-IBC", level=2)
    db.commit()
    today = date.today().strftime("%d/%m/%Y")

    page = _login(journey, "karine@exemple.fr")
    page.get_by_role("link", name="Sessions de certification").click()
    journey.check("liste-vide")
    page.get_by_role("link", name="+ Nouvelle session").click()
    expect(page.get_by_role("tab", name="Session")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nouvelle session")
    journey.check("nouvelle-session")
    page.get_by_label("Dispositif et niveau").select_option(
        label="PRAP-IBC / 1 — Prévention des risques liés à l'activité physique — industrie, BTP, commerce"
    )
    expect(page.get_by_label("Certificat à éditer")).to_contain_text("Certificat d'acteur PRAP IBC")
    page.get_by_label("Date de fin de session").fill("01/01/2020")
    page.get_by_label("Lieu de formation").click()
    expect(page.locator("#end_date-erreur")).to_contain_text(
        "La date de fin doit être comprise entre"
    )
    journey.check("session-date-refusee")
    page.get_by_label("Certificat à éditer").select_option(index=1)
    page.get_by_label("Lieu de formation").fill("Salle A")
    page.get_by_label("Code postal").fill("67000")
    page.get_by_label("Ville").fill("Strasbourg")
    page.get_by_label("Stage initial").check()
    page.get_by_label("Date de fin de session").fill(today)
    page.get_by_role("button", name="Suivant →").click()

    # the first save numbers the session
    expect(page.get_by_text(re.compile(r"Session n° \d+ créée"))).to_be_visible()
    expect(page.get_by_role("tab", name="Formateur")).to_have_attribute("aria-selected", "true")
    page.get_by_label("Numéro Forprev").fill("NOB00000")
    page.get_by_role("button", name="Lancer la vérification").click()
    expect(page.locator(".checks .check-ko")).to_contain_text("Aucune personne trouvée")
    journey.check("formateur-inconnu")
    page.get_by_label("Numéro Forprev").fill("STE55501")
    page.get_by_role("button", name="Lancer la vérification").click()
    expect(page.locator(".checks .check-ok")).to_have_count(4)
    journey.check("formateur-verifie")

    page.get_by_role("tab", name="Stagiaires").click()
    expect(page).to_have_url(re.compile(r"/sessions/\d+/stagiaires$"))  # each tab has its address
    page.get_by_label("Coller une liste de stagiaires").fill(
        "DURAND;Paul;12/03/1990\nMOREAU;Léa;31/02/1991"
    )
    page.get_by_role("button", name="Ajouter la liste").click()
    expect(page.locator("#lignes-refusees")).to_contain_text("Ligne 2")
    expect(page.get_by_label("Coller une liste de stagiaires")).to_have_value(
        "DURAND;Paul;12/03/1990\nMOREAU;Léa;31/02/1991"
    )
    journey.check("stagiaires-ligne-refusee")
    page.get_by_label("Coller une liste de stagiaires").fill(
        "DURAND;Paul;12/03/1990\nMOREAU;Léa;28/02/1991"
    )
    page.get_by_role("button", name="Ajouter la liste").click()
    expect(page.locator("#panneau tbody tr")).to_have_count(2)
    journey.check("stagiaires")
    page.get_by_role("button", name="Envoyer au formateur").click()
    expect(page.locator(".session-state")).to_contain_text("En cours de validation Formateur")
    journey.check("envoyee")
    _logout(page)

    page = _login(journey, "stephanie@exemple.fr")
    page.get_by_role("link", name="Sessions de certification").click()
    expect(
        page.get_by_role("heading", name="Mes sessions de certification à traiter")
    ).to_be_visible()
    journey.check("formateur-liste")
    page.locator("tbody a").first.click()
    page.get_by_role("tab", name="Stagiaires").click()
    page.get_by_label("Réussite pour Paul DURAND").check()
    page.get_by_label("Échec pour Léa MOREAU").check()
    journey.check("resultats")
    page.get_by_role("button", name="Envoyer les résultats des stagiaires").click()
    expect(page.locator(".session-state")).to_contain_text("En cours de validation Entité")
    _logout(page)

    page = _login(journey, "karine@exemple.fr")
    page.get_by_role("link", name="Sessions de certification").click()
    page.locator("tbody a").first.click()
    page.get_by_role("tab", name="Stagiaires").click()
    expect(page.locator("#panneau")).to_contain_text("Réussite")
    journey.check("entite-verifie")
    page.get_by_role("button", name="Modifier la saisie de la session").click()
    expect(page.locator(".session-state")).to_contain_text("En cours de saisie")
    page.get_by_label("Lieu de formation").fill("Salle B")
    page.get_by_role("button", name="Enregistrer").click()
    # the save is answered before the next tab is opened (its form carries the new version)
    expect(page.get_by_text("Onglet Session enregistré.")).to_be_visible()
    page.get_by_role("tab", name="Stagiaires").click()
    expect(page.get_by_role("tab", name="Stagiaires")).to_have_attribute("aria-selected", "true")
    page.get_by_role("button", name="Envoyer au formateur").click()
    expect(page.locator(".session-state")).to_contain_text("En cours de validation Formateur")
    _logout(page)

    page = _login(journey, "stephanie@exemple.fr")
    page.get_by_role("link", name="Sessions de certification").click()
    page.locator("tbody a").first.click()
    page.get_by_role("tab", name="Stagiaires").click()
    expect(page.get_by_label("Réussite pour Paul DURAND")).to_be_checked()
    page.get_by_role("button", name="Envoyer les résultats des stagiaires").click()
    expect(page.locator(".session-state")).to_contain_text("En cours de validation Entité")
    _logout(page)

    page = _login(journey, "karine@exemple.fr")
    page.get_by_role("link", name="Sessions de certification").click()
    page.locator("tbody a").first.click()
    page.get_by_role("tab", name="Historique").click()
    expect(page.locator("#panneau tbody tr")).to_have_count(6)
    journey.check("historique")
    page.get_by_role("tab", name="Stagiaires").click()
    expect(page.get_by_role("tab", name="Stagiaires")).to_have_attribute("aria-selected", "true")
    page.get_by_role("button", name="Générer les certificats").click()
    expect(page.locator(".session-state")).to_contain_text("Clôturée (certificats générés)")
    expect(page.locator("#progression")).to_contain_text("Génération des certificats en cours")
    with app.app_context():  # the worker's job
        generate_certificates(int(re.search(r"/sessions/(\d+)/", page.url).group(1)))
    expect(page.locator("#progression")).to_contain_text("1 stagiaire a validé la certification.")
    journey.check("cloturee")


def test_a_swapped_in_tab_is_live_at_once(db, journey):
    """htmx binds what it swaps in when it settles: with its default 20 ms delay, a tab
    pressed from the keyboard just after the Session tab is redrawn was a plain link and
    reloaded the page, losing the dispositif chosen (seen in the keyboard journey below).
    Settled at once, the redrawn tabs are htmx's before anything else can run."""
    org = factories.organization(db, name="MAROSE FORMATION")
    factories.accreditation(db, org, scheme_code="SST", level=1)
    manager = factories.person(db, first_name="Karine", email="karine@exemple.fr")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    db.commit()
    page = _login(journey, "karine@exemple.fr")
    journey.goto("/sessions/nouvelle")
    # noted by a MutationObserver, which runs right after the swap, before any timer
    page.evaluate(
        """() => {
          window.tabsSeen = [];
          new MutationObserver(() => {
            const tab = document.getElementById("onglet-formateur");
            if (tab) { window.tabsSeen.push(Boolean((tab["htmx-internal-data"] || {}).initHash)); }
          }).observe(document.body, {childList: true, subtree: true});
        }"""
    )
    page.get_by_label("Dispositif et niveau").select_option(index=1)
    expect(page.get_by_label("Certificat à éditer")).to_contain_text("Certificat")
    seen = page.evaluate("window.tabsSeen")
    assert seen and all(seen), seen


def test_tabs_work_with_the_keyboard(db, journey):
    org = factories.organization(db, name="MAROSE FORMATION")
    factories.accreditation(db, org, scheme_code="SST", level=1)
    manager = factories.person(db, first_name="Karine", email="karine@exemple.fr")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    db.commit()
    page = _login(journey, "karine@exemple.fr")
    page.get_by_role("link", name="Sessions de certification").click()
    page.get_by_role("link", name="+ Nouvelle session").click()
    # the first tab change saves the new session: it needs its dispositif
    page.get_by_label("Dispositif et niveau").select_option(index=1)
    expect(page.get_by_label("Certificat à éditer")).to_contain_text("Certificat")
    page.get_by_role("tab", name="Session").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Formateur")).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="Session").click()
    expect(page.get_by_role("tab", name="Session")).to_have_attribute("aria-selected", "true")
    journey.check("onglets-clavier")
    # an error on submit puts the keyboard on the first field to correct
    page.get_by_label("Code postal").fill("123")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_label("Code postal")).to_be_focused()
