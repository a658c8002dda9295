"""A browser journey through the support: an anonymous visitor searches the public list of
accredited organisations, then, from its help link, writes from a phone (an
empty message refused next to its field, the anti-robot question answered), gets the
acknowledgement with the reference; an administrator finds the request in "Demandes
d'assistance", answers it, and the answer reaches the visitor's mailbox through a real SMTP
server. axe-core and the 390 px width are checked at each step."""

import re

from playwright.sync_api import expect
from sqlmodel import select

from app.models import ContactRequest
from app.models.people import Role
from jobs.mail import deliver_outbox
from tests import factories
from tests.e2e.test_public_list_journey import _listed
from tests.factories import PASSWORD

WORDS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]
PHONE = {"width": 390, "height": 844}
VISITOR = "paul.martin@exemple.fr"


def _mails_to(app, smtp_server, to: str) -> list[str]:
    with app.app_context():
        deliver_outbox()
    return [m for m in smtp_server.messages if m["To"] == to]


def test_a_visitor_writes_and_the_support_answers(
    app, db, journey, browser, live_server, smtp_server
):
    admin = factories.person(db, first_name="Ada", last_name="SUPPORT", email="ada@inrs.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    app.config["SMTP_PORT"] = smtp_server.port
    visitor = journey
    visitor.page.set_viewport_size(PHONE)

    _listed(db, "ÉCOLE DE PRÉVENTION D'ALSACE", "SST", email="contact@ecole-prevention.fr")
    db.commit()
    page = visitor.goto("/organismes-habilites")
    page.get_by_label("Nom de l'organisme").press_sequentially("ecole prevention")
    expect(page.get_by_role("status")).to_have_text("1 organisme habilité pour ces critères.")
    visitor.check("liste-recherche")
    # no answer to their question there: the help, then "écrivez à l'assistance"
    page.get_by_role("contentinfo").get_by_role("link", name="Aide et assistance").click()
    page.get_by_role("link", name="écrivez à l'assistance").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nous écrire")
    visitor.check("formulaire-vide")
    page.get_by_label("Sujet").select_option("Habilitation")
    page.get_by_label("Votre adresse e-mail").fill(VISITOR)
    question = page.locator("#robot-question").inner_text()
    a, b = re.search(r"Combien font (\S+) plus (\S+)", question).groups()
    page.get_by_label("Question anti-robot").fill(str(WORDS.index(a) + WORDS.index(b)))
    page.get_by_role("button", name="Envoyer ma demande").click()
    # an empty message: named next to its field, the rest kept
    expect(page.locator("#message-erreur")).to_have_text("Écrivez votre message.")
    expect(page.get_by_label("Votre adresse e-mail")).to_have_value(VISITOR)
    expect(page.get_by_label("Sujet")).to_have_value("Habilitation")
    visitor.check("message-manquant")
    page.get_by_label("Votre message").fill(
        "Bonjour,\nnotre habilitation SST finit en juin : quand faut-il la renouveler ?"
    )
    question = page.locator("#robot-question").inner_text()
    a, b = re.search(r"Combien font (\S+) plus (\S+)", question).groups()
    page.get_by_label("Question anti-robot").fill(str(WORDS.index(a) + WORDS.index(b)))
    page.get_by_role("button", name="Envoyer ma demande").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demande d'assistance envoyée")
    reference = db.exec(select(ContactRequest.reference)).one()
    expect(page.get_by_role("status")).to_contain_text(reference)
    visitor.check("demande-envoyee")
    receipts = _mails_to(app, smtp_server, VISITOR)
    assert len(receipts) == 1 and reference in receipts[0]["Subject"]

    # --- the administrator, on a phone too, answers from "Demandes d'assistance" ---
    context = browser.new_context(locale="fr-FR", viewport=PHONE)
    from tests.e2e.conftest import Journey

    support = Journey(context.new_page(), live_server, "support")
    page = support.goto("/connexion")
    page.get_by_label("E-mail ou numéro Forprev").fill(admin.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Demandes d'assistance").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demandes d'assistance")
    page.get_by_label("État").select_option("ouverte")
    page.get_by_role("button", name="Filtrer").click()
    support.check("liste-ouvertes")
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.locator("main")).to_contain_text("quand faut-il la renouveler ?")
    support.check("demande")
    page.get_by_label("Votre réponse").fill(
        "Bonjour,\ndemandez le renouvellement depuis « Habilitations » trois mois avant."
    )
    page.get_by_role("button", name="Envoyer la réponse").click()
    expect(page.get_by_role("status")).to_contain_text(f"Votre réponse est envoyée à {VISITOR}")
    expect(page.locator("main")).to_contain_text("Répondue")
    support.check("repondue")
    page.get_by_role("button", name="Fermer la demande").click()
    expect(page.locator("main .badge")).to_have_text("Fermée")
    support.check("fermee")
    assert support.problems == [], support.problems
    context.close()

    answers = [m for m in _mails_to(app, smtp_server, VISITOR) if m not in receipts]
    assert len(answers) == 1
    body = answers[0].get_body(("plain",)).get_content()
    assert "demandez le renouvellement depuis « Habilitations » trois mois avant." in body
    assert reference in answers[0]["Subject"]
