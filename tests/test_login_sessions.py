"""Login sessions known on the server (logout, password change and deactivation end
them), htmx requests after a login session ended, and HSTS in production."""

import html as html_lib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from app.clock import frozen, utcnow
from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token

COOKIE = "forprev_session"


@pytest.fixture
def trainer(db):
    person = factories.person(db, email="karine@exemple.fr", forprev_number="KPA12345")
    factories.grant(db, person, Role.FORMATEUR)
    db.commit()
    return person


def _logged_in(app, person):
    client = app.test_client()
    answer = client.post(
        "/connexion",
        data={
            "identifier": person.email,
            "password": factories.PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def _replaying(app, cookie: str):
    """Another browser holding a copy of a session cookie."""
    client = app.test_client()
    client.set_cookie(COOKIE, cookie)
    return client


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _choices(db, person) -> tuple[bool, bool, bool]:
    db.refresh(person)
    return person.notify_alerts, person.notify_notifications, person.notify_messages


def test_a_cookie_kept_from_before_logout_is_refused(app, db, trainer):
    client = _logged_in(app, trainer)
    token = csrf_token(client, "/mon-compte")  # a form's token, taken before logging out
    kept = client.get_cookie(COOKIE).value
    assert _replaying(app, kept).get("/mon-compte").status_code == 200

    logout = client.post("/deconnexion", data={"csrf_token": token})
    assert logout.location == "/connexion"

    thief = _replaying(app, kept)
    page = thief.get("/mon-compte")
    assert page.status_code == 302 and page.location.startswith("/connexion?next=/mon-compte")
    assert "Votre session a été fermée. Connectez-vous à nouveau." in _text(
        thief.get(page.location)
    )
    # a form sent with the old cookie and its token changes nothing (all boxes unticked)
    fund = factories.fund(db, "CRAMIF")
    assert _choices(db, trainer) == (True, True, True)
    sent = _replaying(app, kept).post(
        "/mon-compte/notifications", data={"csrf_token": token, "pref-fund_id": str(fund.id)}
    )
    assert sent.status_code == 302 and sent.location.startswith("/connexion")
    assert _choices(db, trainer) == (True, True, True)


def test_logging_out_ends_only_that_login_session(app, trainer):
    """Each login is a login session of its own: ending one leaves the others."""
    office, phone = _logged_in(app, trainer), _logged_in(app, trainer)
    phone.post("/deconnexion", data={"csrf_token": csrf_token(phone, "/mon-compte")})
    assert office.get("/mon-compte").status_code == 200
    assert phone.get("/mon-compte").status_code == 302


def test_a_new_password_ends_every_other_login_session(app, db, trainer):
    office, phone = _logged_in(app, trainer), _logged_in(app, trainer)
    kept = phone.get_cookie(COOKIE).value
    changed = office.post(
        "/mon-compte/mot-de-passe",
        data={
            "csrf_token": csrf_token(office, "/mon-compte"),
            "pw-current_password": factories.PASSWORD,
            "pw-password": "Nouveau-mdp-2026",
            "pw-confirm": "Nouveau-mdp-2026",
        },
    )
    assert changed.status_code == 302
    assert office.get("/mon-compte").status_code == 200  # this one carries on
    assert _replaying(app, kept).get("/mon-compte").location.startswith("/connexion")
    # logging out after the change ends the login session the change renewed
    kept = office.get_cookie(COOKIE).value
    office.post("/deconnexion", data={"csrf_token": csrf_token(office, "/mon-compte")})
    assert _replaying(app, kept).get("/mon-compte").location.startswith("/connexion")


def test_a_deactivated_account_is_logged_out(app, db, trainer):
    client = _logged_in(app, trainer)
    trainer.active = False
    db.add(trainer)
    db.commit()
    assert client.get("/mon-compte").location.startswith("/connexion")


# --- htmx after the login session ended --------------------------------------------------


def _htmx(client, path: str, page: str, method: str = "GET", token: str | None = None):
    headers = {"HX-Request": "true", "HX-Current-URL": f"http://localhost{page}"}
    if token:
        headers["X-CSRFToken"] = token
    return client.open(path, method=method, headers=headers)


def _login_target(response) -> tuple[str, str]:
    """(path, next) of the page htmx is told to load."""
    assert response.status_code == 401, response.status_code
    assert "Connexion" not in _text(response), "no login page inside the panel"
    target = urlsplit(response.headers["HX-Redirect"])
    return target.path, parse_qs(target.query)["next"][0]


def test_htmx_without_login_is_sent_to_the_login_page_of_the_whole_page(client):
    answer = _htmx(client, "/mon-compte", "/sessions/?page=2")
    assert _login_target(answer) == ("/connexion", "/sessions/?page=2")
    # a page asked for normally is still redirected
    assert client.get("/mon-compte").location.startswith("/connexion?next=")


def test_htmx_after_logout_is_sent_to_the_login_page(app, trainer):
    client = _logged_in(app, trainer)
    token = csrf_token(client, "/mon-compte")
    kept = client.get_cookie(COOKIE).value
    client.post("/deconnexion", data={"csrf_token": token})
    thief = _replaying(app, kept)
    answer = _htmx(thief, "/mot-de-passe/regles?champ=password", "/mon-compte", "POST", token)
    assert _login_target(answer) == ("/connexion", "/mon-compte")
    assert "Votre session a été fermée." in _text(thief.get("/connexion"))


def test_htmx_after_an_idle_hour_is_sent_to_the_login_page(app, trainer):
    start = utcnow()
    with frozen(start):
        client = _logged_in(app, trainer)
    with frozen(start + timedelta(minutes=61)):
        answer = _htmx(client, "/mon-compte", "/mon-compte")
        assert _login_target(answer) == ("/connexion", "/mon-compte")
        assert "après une période d'inactivité" in _text(client.get("/connexion"))


# --- HSTS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env, testing, sent",
    [("production", False, True), ("development", False, False), ("test", True, False)],
)
def test_strict_transport_security_in_production_only(database_url, redis_url, env, testing, sent):
    application = create_app(
        {
            "ENV": env,
            "TESTING": testing,
            "SECRET_KEY": "x" * 32,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
    )
    answer = application.test_client().get("/connexion")
    hsts = answer.headers.get("Strict-Transport-Security")
    assert hsts == ("max-age=31536000; includeSubDomains" if sent else None)
    application.extensions["forprev_engine"].dispose()
