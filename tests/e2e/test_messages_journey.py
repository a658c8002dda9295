"""An instructor writes to the SST trainers of their region, sees how many it reaches,
sends it; a trainer finds it on their dashboard with the menu counter, and reads it."""

from playwright.sync_api import expect

from app.models.people import Role
from tests import factories


def _login(journey, email):
    page = journey.goto("/connexion")
    page.get_by_label("E-mail ou numéro Forprev").fill(email)
    page.get_by_label("Mot de passe").fill(factories.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Déconnexion")).to_be_visible()
    return page


def test_instructor_message_reaches_a_trainer(db, journey):
    alsace = factories.fund(db, "ALSACE-MOSELLE")
    instructor = factories.person(db, first_name="Thomas", email="instructeur@exemple.fr")
    factories.grant(db, instructor, Role.INSTRUCTEUR, fund_=alsace)
    trainer = factories.person(
        db, first_name="Stéphanie", email="t@exemple.fr", trainer_fund_id=alsace.id
    )
    factories.grant(db, trainer, Role.FORMATEUR)
    factories.trainer_certificate(db, trainer, scheme_code="SST", level=2)
    db.commit()

    page = _login(journey, "instructeur@exemple.fr")
    page.get_by_role("link", name="Messages ciblés").click()
    journey.check("messages")
    page.get_by_role("link", name="+ Nouveau message").click()
    expect(page.locator("#audience")).to_contain_text("Choisissez au moins un rôle")
    page.get_by_label("Formateurs").check()
    page.get_by_label("Dispositif").select_option(label="SST — Sauvetage secourisme du travail")
    expect(page.locator("#audience")).to_contain_text("Ce message atteindra 1 personne.")
    journey.check("apercu")
    page.get_by_role("button", name="Envoyer le message").click()
    expect(page.locator("#title-erreur")).to_have_text("Donnez un titre au message.")
    expect(page.get_by_label("Formateurs")).to_be_checked()
    journey.check("titre-manquant")
    page.get_by_label("Titre").fill("Recyclage SST 2027")
    page.get_by_label("Message", exact=True).fill(
        "Les nouvelles règles du recyclage sont en ligne."
    )
    page.get_by_role("button", name="Envoyer le message").click()
    expect(page.get_by_role("status").first).to_contain_text("Message envoyé à 1 personne.")
    page.get_by_role("button", name="Déconnexion").click()

    page = _login(journey, "t@exemple.fr")
    expect(page.locator("#a-traiter")).to_contain_text("1")
    messages = page.locator("section", has=page.get_by_role("heading", name="Messages ciblés"))
    expect(messages).to_contain_text("Recyclage SST 2027")
    journey.check("tableau-de-bord-formateur")
    page.get_by_role("button", name="Marquer comme lu : Recyclage SST 2027").click()
    expect(messages).not_to_contain_text("Nouveau")
    expect(page.locator("#a-traiter")).to_be_hidden()
