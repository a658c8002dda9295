"""A login session ended elsewhere (logged out from a copy of the cookie): the next htmx
request of the open page brings the whole login page, not a login page inside the panel,
and logging in again returns to the page."""

import re

from playwright.sync_api import expect

from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token


def test_an_ended_login_session_brings_the_login_page(app, db, journey):
    person = factories.person(db, email="karine@exemple.fr")
    factories.grant(db, person, Role.FORMATEUR)
    db.commit()
    page = journey.goto("/mon-compte")
    page.get_by_label("E-mail ou numéro Forprev").fill("karine@exemple.fr")
    page.get_by_label("Mot de passe").fill(factories.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon compte")

    # the same login session logged out from another browser holding its cookie
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "forprev_session"]
    other = app.test_client()
    other.set_cookie("forprev_session", cookie["value"])
    assert other.post(
        "/deconnexion", data={"csrf_token": csrf_token(other, "/mon-compte")}
    ).location.endswith("/connexion")

    # typing a new password asks for the live checklist (htmx): the login page replaces
    # the whole page
    page.get_by_label("Nouveau mot de passe").press_sequentially("Abc", delay=20)
    expect(page).to_have_url(re.compile(r"/connexion\?next=(%2F|/)mon-compte$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")
    expect(
        page.get_by_text("Votre session a été fermée. Connectez-vous à nouveau.")
    ).to_be_visible()
    assert page.locator("h1").count() == 1, "a login page inside the page"
    # the browser reports the 401 that tells htmx to load the login page: expected here
    journey.problems = [p for p in journey.problems if "status of 401" not in p]
    journey.check("session-fermee")

    page.get_by_label("E-mail ou numéro Forprev").fill("karine@exemple.fr")
    page.get_by_label("Mot de passe").fill(factories.PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/mon-compte$"))
    journey.check("de-retour")
