"""Forgotten password → the mail read from a real SMTP server → a new password checked
as it is typed → first-login choices → dashboard, in headless Chromium."""

import re

from playwright.sync_api import expect

from app.models.people import Role
from jobs.mail import deliver_outbox
from tests import factories


def test_forgotten_password_to_first_dashboard(app, db, journey, smtp_server):
    trainer = factories.person(
        db,
        first_name="Stéphanie",
        email="stephanie@exemple.fr",
        forprev_number="STE55501",
        onboarded=False,
    )
    factories.grant(db, trainer, Role.FORMATEUR)
    db.commit()
    page = journey.goto("/connexion")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mot de passe oublié")
    journey.check("oubli")
    page.get_by_label("E-mail ou numéro Forprev").fill("ste55501")
    page.get_by_role("button", name="Recevoir le lien").click()
    expect(page.get_by_role("status")).to_contain_text("Si un compte correspond")
    journey.check("lien-envoye")

    app.config["SMTP_PORT"] = smtp_server.port
    with app.app_context():
        assert deliver_outbox()["sent"] == 1
    (mail,) = smtp_server.messages
    assert mail["To"] == "stephanie@exemple.fr"
    body = mail.get_body(("plain",)).get_content()
    link = re.search(r"http://forprev\.test(/mot-de-passe/nouveau/\S+)", body).group(1)

    journey.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Définir votre mot de passe")
    password = page.get_by_label("Nouveau mot de passe")
    password.press_sequentially("abcdefgh", delay=20)
    rules = page.locator("#password-regles")
    expect(rules.locator("li.rule-ok")).to_have_count(2)  # length and lower-case
    expect(rules.locator("li.rule-missing")).to_contain_text(
        ["une lettre majuscule", "un chiffre", "un caractère spécial"]
    )
    journey.check("mot-de-passe-en-cours")
    page.get_by_label("Confirmez le mot de passe").fill("abcdefgh")
    page.get_by_role("button", name="Enregistrer mon mot de passe").click()
    expect(page.locator("#password-erreur")).to_have_text(
        "Le mot de passe doit contenir une lettre majuscule, un chiffre et un caractère "
        "spécial (par exemple ! ? - _ @)."
    )
    journey.check("mot-de-passe-refuse")
    page.get_by_label("Nouveau mot de passe").fill("Nouveau-mdp-2026")
    page.get_by_label("Confirmez le mot de passe").fill("Nouveau-mdp-2026")
    page.get_by_role("button", name="Enregistrer mon mot de passe").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Première connexion")
    journey.check("premiere-connexion")
    page.get_by_label("Notifications").uncheck()
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page.locator("#pref-fund_id-erreur")).to_have_text(
        "Choisissez votre caisse de rattachement."
    )
    expect(page.get_by_label("Notifications")).not_to_be_checked()
    journey.check("caisse-manquante")
    page.get_by_label("Caisse de rattachement").select_option(label="Cramif (Île-de-France)")
    page.get_by_role("button", name="Enregistrer et continuer").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Tableau de bord")
    expect(page.get_by_role("status")).to_contain_text("Vos choix sont enregistrés")
    journey.check("tableau-de-bord")
    page.get_by_role("link", name="Mon compte").first.click()
    expect(page.locator("dl.readonly-data")).to_contain_text("Cramif (Île-de-France)")
    journey.check("mon-compte")


WORDS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]


def test_applicant_signup_with_mistakes_then_success(db, journey):
    page = journey.goto("/connexion")
    page.get_by_role("link", name="Création d'un compte demandeur").click()
    journey.check("inscription")
    page.locator("#last_name").fill("Lefèvre2")
    page.locator("#first_name").fill("Anne-Marie")
    page.get_by_label("Date de naissance").fill("31/02/1985")
    page.get_by_label("Adresse e-mail").fill("anne.lefevre@")
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.locator("#birth_date-erreur")).to_have_text(
        "Saisissez une date valide, par exemple 14/07/1990."
    )
    expect(page.locator("#last_name-erreur")).to_contain_text("que des lettres")
    expect(page.locator("#consent-erreur")).to_be_visible()
    expect(page.locator("#first_name")).to_have_value("Anne-Marie")
    expect(page.get_by_label("Date de naissance")).to_have_value("31/02/1985")
    journey.check("inscription-erreurs")

    page.locator("#last_name").fill("Lefèvre")
    page.get_by_label("Date de naissance").fill("12/05/1985")
    page.get_by_label("Adresse e-mail").fill("anne.lefevre@exemple.fr")
    page.get_by_label("J'accepte les conditions").check()
    question = page.locator("#robot-question").inner_text()
    a, b = re.search(r"Combien font (\S+) plus (\S+)", question).groups()
    page.get_by_label("Question anti-robot").fill(str(WORDS.index(a) + WORDS.index(b)))
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_role("status")).to_contain_text("Un e-mail vient d'être envoyé")
    journey.check("inscription-envoyee")


def test_a_live_check_still_waiting_does_not_follow_the_sent_form(app, db, journey):
    """Typing the password and sending at once: the rule check waiting for a pause in the
    typing must not run once the form has gone (it would carry the token of the session
    the login replaces, and be refused)."""
    import time

    from app.domain.accounts import Purpose, issue_link

    person = factories.person(db, email="julie@exemple.fr", onboarded=False)
    raw = issue_link(db, person, Purpose.PASSWORD)
    db.commit()
    page = journey.goto(f"/mot-de-passe/nouveau/{raw}")

    def landing_page_takes_its_time(route):
        # the login is done (new session cookie) while the old page is still shown
        response = route.fetch()
        time.sleep(1)
        route.fulfill(response=response)

    page.route(re.compile(r"/premiere-connexion$"), landing_page_takes_its_time)
    page.get_by_label("Confirmez le mot de passe").fill("Nouveau-mdp-2026")
    page.get_by_label("Nouveau mot de passe").fill("Nouveau-mdp-2026")
    page.get_by_role("button", name="Enregistrer mon mot de passe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Première connexion")
    page.wait_for_timeout(500)
    assert journey.problems == []
