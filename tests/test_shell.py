"""The page shell: security headers and CSP everywhere, French error pages, htmx vendored
at a pinned version with its licence, no inline script or style."""

import re
from pathlib import Path

import pytest
from flask import abort

from app.web import CSP
from tests.factories import grant, person

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def _assert_secure(response):
    assert response.headers["Content-Security-Policy"] == EXPECTED_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def _no_inline_code(html: str):
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "script inline"
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html), "attribut style"
    assert not re.search(r"\son[a-z]+=", html), "gestionnaire d'événement inline"


def test_csp_is_the_agreed_one():
    assert CSP == EXPECTED_CSP


def test_login_page_has_headers_landmarks_and_no_inline_code(client):
    response = client.get("/connexion")
    _assert_secure(response)
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert '<a class="skip-link" href="#contenu">Aller au contenu</a>' in html
    assert '<main id="contenu"' in html
    assert '<nav class="side-nav" aria-label="Menu principal">' in html
    assert "Aide et assistance" in html
    assert "<footer" in html
    _no_inline_code(html)


def test_logged_in_shell_carries_csrf_for_htmx(client, login_as, db):
    someone = person(db, first_name="Karine")
    grant(db, someone, "formateur")
    db.commit()
    html = login_as(someone).get("/").get_data(as_text=True)
    token = re.search(r'data-hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html)
    assert token and len(token.group(1)) > 20
    assert "Déconnexion" in html
    _no_inline_code(html)


def test_htmx_is_vendored_pinned_with_its_licence(client):
    script = STATIC / "vendor" / "htmx" / "htmx-2.0.11.min.js"
    assert script.stat().st_size > 30_000
    assert "2.0.11" in script.read_text()
    assert "Zero-Clause BSD" in (STATIC / "vendor" / "htmx" / "LICENSE").read_text()
    html = client.get("/connexion").get_data(as_text=True)
    # linked under its content's hash (tests/test_static_files.py)
    src = re.search(r'src="(/static/vendor/htmx/htmx-2\.0\.11\.min\.[0-9a-f]{12}\.js)"', html)
    assert src, "htmx n'est pas lié"
    served = client.get(src.group(1))
    assert served.status_code == 200 and served.data == script.read_bytes()


def test_htmx_swaps_422_and_409(client):
    html = client.get("/connexion").get_data(as_text=True)
    config = re.search(r"name=\"htmx-config\" content='([^']+)'", html).group(1)
    assert '{"code": "422", "swap": true}' in config
    assert '{"code": "409", "swap": true}' in config
    assert '"allowEval": false' in config


@pytest.fixture
def failing_app(app):
    def boom():
        raise RuntimeError("panne")

    app.add_url_rule("/essai/panne", "boom", boom)
    for code in (403, 409, 422):
        app.add_url_rule(f"/essai/{code}", f"abort{code}", lambda code=code: abort(code))
    return app


@pytest.mark.parametrize(
    "path, code, title",
    [
        ("/page-qui-n-existe-pas", 404, "Page introuvable"),
        ("/essai/403", 403, "Accès refusé"),
        ("/essai/409", 409, "Conflit de modification"),
        ("/essai/422", 422, "Saisie incorrecte"),
        ("/essai/panne", 500, "Erreur interne"),
    ],
)
def test_error_pages_are_french_and_secure(failing_app, path, code, title):
    response = failing_app.test_client().get(path)
    assert response.status_code == code
    _assert_secure(response)
    html = response.get_data(as_text=True)
    assert f'<h1>{title} <span class="error-code">(erreur {code})</span></h1>' in html
    assert "panne" not in html and "Traceback" not in html
    assert '<html lang="fr">' in html


def test_htmx_error_gets_a_fragment_not_a_page(failing_app):
    response = failing_app.test_client().get("/essai/422", headers={"HX-Request": "true"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Saisie incorrecte" in html


def test_a_post_without_csrf_token_is_refused_in_french(client):
    response = client.post("/connexion", data={"identifier": "x", "password": "y"})
    assert response.status_code == 400
    assert "Votre formulaire a expiré" in response.get_data(as_text=True)
