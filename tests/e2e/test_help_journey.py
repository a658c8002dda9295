"""A browser journey through "Aide et assistance" on a phone: a visitor goes from the login
page to the help, types words without their accents and in another order and the FAQ
narrows as they type (htmx, the address updated), the matching words marked; a search
with no answer offers to write to the support; the trainer's manual opens with its
contents and prints without the menus. Then an administrator adds a question with a
script in it, which the FAQ shows as text. axe-core and the 390 px width are checked at
each step."""

import re

from playwright.sync_api import expect
from sqlmodel import select

from app.models import FaqEntry, Manual
from app.models.people import Role
from seeds.help_content import load_help_content
from tests import factories

PHONE = {"width": 390, "height": 844}


def test_a_visitor_finds_an_answer_and_an_administrator_adds_one(db, journey):
    for model in (FaqEntry, Manual):  # the shipped help, as a fresh install has it
        for row in db.exec(select(model)).all():
            db.delete(row)
    db.commit()
    load_help_content(db)
    admin = factories.person(db, first_name="Hélène", email="admin@inrs.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    visitor = journey
    page = visitor.page
    page.set_viewport_size(PHONE)

    visitor.goto("/connexion")
    page.locator("main").get_by_role("link", name="Aide et assistance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Aide et assistance")
    visitor.check("aide")

    search = page.get_by_label("Rechercher dans la FAQ")
    search.press_sequentially("commente RETOUR cloture")
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"^1 question trouvée pour « commente RETOUR cloture »")
    )
    question = page.locator("details[open] summary")
    expect(question).to_have_text("Qui clôture la session : le formateur ou le gestionnaire ?")
    expect(question.locator("mark")).to_have_text(["clôture"])
    marks = page.locator("details[open] .faq-answer mark")
    expect(marks.nth(0)).to_have_text("Retour")
    expect(marks.nth(1)).to_have_text("commenté")
    expect(page).to_have_url(re.compile(r"q=commente(\+|%20)RETOUR(\+|%20)cloture"))
    visitor.check("recherche")

    search.fill("")
    search.press_sequentially("hélicoptère")
    expect(page.locator(".faq-empty")).to_have_text("Aucune réponse : écrivez-nous.")
    visitor.check("aucune-reponse")
    page.get_by_role("link", name="écrivez-nous").click()
    expect(page).to_have_url(re.compile(r"/aide/contact$"))

    visitor.goto("/aide/")
    page.get_by_role("link", name="Manuel du formateur").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Manuel du formateur")
    contents = page.get_by_role("navigation", name="Sommaire")
    contents.get_by_role("link", name="Retour commenté").click()
    expect(page).to_have_url(re.compile(r"#retour-commente$"))
    visitor.check("manuel")
    page.emulate_media(media="print")  # printed: the manual alone, without menus
    expect(page.get_by_role("navigation", name="Menu principal")).to_be_hidden()
    expect(page.get_by_role("link", name="← Aide et assistance")).to_be_hidden()
    expect(page.get_by_role("heading", name="Retour commenté")).to_be_visible()
    page.emulate_media(media="screen")

    page.goto(visitor.base_url + "/connexion")
    page.get_by_label("E-mail ou numéro Forprev").fill("admin@inrs.fr")
    page.get_by_label("Mot de passe").fill(factories.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Aide et assistance"
    ).click()
    page.get_by_role("link", name="Gérer la FAQ et les manuels").click()
    visitor.check("gestion")
    page.get_by_role("link", name="+ Nouvelle question").click()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#module-erreur")).to_have_text(
        "Choisissez le module de la question dans la liste."
    )
    visitor.check("question-refusee")
    page.get_by_label("Module").select_option(label="Certificats")
    page.get_by_label("Question").fill("Puis-je <script>alert(1)</script> imprimer ?")
    page.get_by_label("Réponse").fill("Oui : [le guide](javascript:alert(1)), **en PDF**.")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status").first).to_contain_text("La question est ajoutée")

    visitor.goto("/aide/?q=imprimer")
    answer = page.locator("details[open]")
    expect(answer.locator("summary")).to_have_text("Puis-je <script>alert(1)</script> imprimer ?")
    expect(answer.locator("a")).to_have_count(0)
    expect(answer.locator("strong")).to_have_text("en PDF")
    visitor.check("question-ajoutee")
