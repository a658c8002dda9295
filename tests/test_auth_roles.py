"""Login, logout and role switching; the menu and dashboard follow the active role."""

import re

import pytest

from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def three_roles(db):
    """A person managing two entities who is also a trainer (REFERENCE §6)."""
    first = factories.organization(db, name="MAROSE FORMATION")
    second = factories.organization(
        db, name="FORMATION GUY", postal_code="75011", fund_code="CRAMIF"
    )
    factories.accreditation(db, first, scheme_code="SST", level=1)
    factories.accreditation(db, second, scheme_code="PRAP-IBC", level=1)
    person = factories.person(
        db,
        first_name="Romain",
        last_name="MARTIN",
        email="romain@exemple.fr",
        forprev_number="ROM37899",
    )
    grants = {
        "first": factories.grant(db, person, Role.GESTIONNAIRE, organization=first),
        "second": factories.grant(db, person, Role.GESTIONNAIRE, organization=second),
        "trainer": factories.grant(db, person, Role.FORMATEUR),
    }
    db.commit()
    return person, grants


def _menu(html: str) -> list[str]:
    nav = re.search(r'<nav class="side-nav".*?</nav>', html, re.S).group(0)
    links = re.findall(r"<a [^>]*>(.*?)</a>", nav, re.S)
    # the dashboard entry carries its "à traiter" badge: keep the label only
    return [re.sub(r"<span.*", "", link, flags=re.S).strip() for link in links]


def _selected_role(html: str) -> str:
    return re.search(r"<option [^>]*selected>([^<]+)</option>", html).group(1)


def test_login_page_is_french_and_labelled(client):
    html = client.get("/connexion").get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert '<label for="identifier">E-mail ou numéro Forprev' in html
    assert '<label for="password">Mot de passe' in html


@pytest.mark.parametrize(
    "identifier", ["romain@exemple.fr", "ROMAIN@Exemple.FR", "ROM37899", "rom37899", " rom 37899 "]
)
def test_login_by_email_or_forprev_number(client, auth, three_roles, identifier):
    response = auth.login(identifier)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert "Tableau de bord" in html
    assert _selected_role(html) == "Gestionnaire — MAROSE FORMATION"


@pytest.mark.parametrize(
    "identifier,password",
    [
        ("romain@exemple.fr", "mauvais"),
        ("inconnu@exemple.fr", "Mot-de-passe-1"),
        ("ZZZ99999", "Mot-de-passe-1"),
    ],
)
def test_wrong_identifier_or_password_same_answer(client, auth, three_roles, identifier, password):
    response = auth.login(identifier, password)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Identifiant ou mot de passe incorrect." in html
    assert f'value="{identifier}"' in html  # what was typed is kept
    assert client.get("/").status_code == 302  # still not logged in


@pytest.mark.parametrize(
    "field,message",
    [
        ("identifier", "Saisissez votre e-mail ou votre numéro Forprev."),
        ("password", "Saisissez votre mot de passe."),
    ],
)
def test_empty_fields_are_named(client, field, message):
    data = {"identifier": "romain@exemple.fr", "password": "x", "csrf_token": csrf_token(client)}
    data[field] = ""
    html = client.post("/connexion", data=data).get_data(as_text=True)
    assert f'<p class="error" id="{field}-erreur" role="alert">{message}</p>' in html
    assert 'aria-invalid="true"' in html


def test_switching_roles_changes_menu_and_dashboard(client, auth, three_roles):
    person, grants = three_roles
    auth.login("romain@exemple.fr")
    html = client.get("/").get_data(as_text=True)
    assert re.findall(r"<option [^>]*>([^<]+)</option>", html) == [
        "Gestionnaire — MAROSE FORMATION",
        "Gestionnaire — FORMATION GUY",
        "Formateur",
    ]
    assert _menu(html) == [
        "Tableau de bord",
        "Mon entité",
        "Habilitations",
        "Sessions de certification",
        "Utilisateurs",
        "Statistiques",
        "Mon compte",
        "Aide et assistance",
    ]
    assert "/SST-1/" in html and "/PRAP-IBC-1/" not in html

    assert auth.switch(grants["second"].id).headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert _selected_role(html) == "Gestionnaire — FORMATION GUY"
    assert "/PRAP-IBC-1/" in html and "/SST-1/" not in html
    assert "FORMATION GUY" in client.get("/entite/").get_data(as_text=True)

    auth.switch(grants["trainer"].id)
    html = client.get("/").get_data(as_text=True)
    assert _selected_role(html) == "Formateur"
    assert _menu(html) == [
        "Tableau de bord",
        "Sessions de certification",
        "Mes certificats",
        "Mon compte",
        "Aide et assistance",
    ]
    assert "Mes sessions de certification à traiter" in html
    assert client.get("/entite/").status_code == 403


def test_cannot_switch_to_a_role_not_held(client, auth, db, three_roles):
    other = factories.person(db, email="autre@exemple.fr")
    foreign = factories.grant(db, other, Role.ADMINISTRATEUR)
    db.commit()
    auth.login("romain@exemple.fr")
    response = auth.switch(foreign.id)
    assert response.status_code == 403
    assert "Accès refusé" in response.get_data(as_text=True)
    assert (
        _selected_role(client.get("/").get_data(as_text=True)) == "Gestionnaire — MAROSE FORMATION"
    )
    assert client.get("/catalogue/").status_code == 403


@pytest.mark.parametrize("value", ["", "abc", "-1", "999999"])
def test_switch_with_nonsense_is_refused(client, auth, three_roles, value):
    auth.login("romain@exemple.fr")
    token = csrf_token(client, "/")
    assert client.post("/role", data={"grant_id": value, "csrf_token": token}).status_code == 403


def test_switch_needs_the_csrf_token(client, auth, three_roles):
    _, grants = three_roles
    auth.login("romain@exemple.fr")
    response = client.post("/role", data={"grant_id": str(grants["trainer"].id)})
    assert response.status_code == 400
    assert "Votre formulaire a expiré" in response.get_data(as_text=True)
    assert _selected_role(client.get("/").get_data(as_text=True)) != "Formateur"


def test_revoked_role_is_no_longer_offered(client, auth, db, three_roles):
    _, grants = three_roles
    auth.login("romain@exemple.fr")
    auth.switch(grants["second"].id)
    grants["second"].active = False
    db.add(grants["second"])
    db.commit()
    html = client.get("/").get_data(as_text=True)
    assert re.findall(r"<option [^>]*>([^<]+)</option>", html) == [
        "Gestionnaire — MAROSE FORMATION",
        "Formateur",
    ]
    assert _selected_role(html) == "Gestionnaire — MAROSE FORMATION"


def test_logout_clears_the_session(client, auth, three_roles):
    auth.login("romain@exemple.fr")
    response = auth.logout()
    assert response.headers["Location"] == "/connexion"
    assert client.get("/").status_code == 302
    assert "Vous êtes déconnecté." in client.get("/connexion").get_data(as_text=True)


def test_pages_require_login(client):
    response = client.get("/habilitations/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")


def test_next_parameter_cannot_leave_the_site(client, auth, three_roles):
    token = csrf_token(client)
    response = client.post(
        "/connexion?next=//evil.example/x",
        data={
            "identifier": "romain@exemple.fr",
            "password": factories.PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/"
    client.post("/deconnexion", data={"csrf_token": csrf_token(client, "/")})
    token = csrf_token(client)
    response = client.post(
        "/connexion?next=/habilitations/",
        data={
            "identifier": "romain@exemple.fr",
            "password": factories.PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/habilitations/"


def test_delegataire_sees_only_delegated_accreditations(client, auth, db):
    from app.models import Delegation

    org = factories.organization(db, name="MAROSE FORMATION")
    delegated = factories.accreditation(db, org, scheme_code="SST", level=1)
    factories.accreditation(db, org, scheme_code="CATEC", level=1)
    person = factories.person(db, email="delegue@exemple.fr")
    factories.grant(db, person, Role.DELEGATAIRE, organization=org)
    db.add(Delegation(person_id=person.id, accreditation_id=delegated.id))
    db.commit()
    auth.login("delegue@exemple.fr")
    html = client.get("/habilitations/").get_data(as_text=True)
    assert delegated.number in html
    assert "/CATEC-1/" not in html


def test_instructor_sees_own_fund_requests_only(client, auth, db):
    from app.models import AccreditationRequest
    from app.models.accreditations import RequestPhase

    alsace_org = factories.organization(db, name="ENTITÉ ALSACE")
    paris_org = factories.organization(
        db, name="ENTITÉ PARIS", postal_code="75011", fund_code="CRAMIF"
    )
    creator = factories.person(db)
    for org in (alsace_org, paris_org):
        db.add(
            AccreditationRequest(
                organization_id=org.id,
                fund_id=org.fund_id,
                scheme_level_id=factories.scheme_level(db).id,
                phase=RequestPhase.PHASE_1,
                created_by_id=creator.id,
            )
        )
    instructor = factories.person(db, email="instructeur@exemple.fr")
    factories.grant(db, instructor, Role.INSTRUCTEUR, fund_=factories.fund(db, "CRAMIF"))
    db.commit()
    auth.login("instructeur@exemple.fr")
    html = client.get("/instruction/demandes").get_data(as_text=True)
    assert "ENTITÉ PARIS" in html and "ENTITÉ ALSACE" not in html
    assert "Instruction en cours phase 1" in html
    assert _menu(client.get("/").get_data(as_text=True)) == [
        "Tableau de bord",
        "Habilitations",
        "Demandes à instruire",
        "Personnes",
        "Messages ciblés",
        "Statistiques",
        "Mon compte",
        "Aide et assistance",
    ]


def test_the_administrator_s_menu(client, auth, db):
    admin = factories.person(db, email="admin@exemple.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    auth.login("admin@exemple.fr")
    assert _menu(client.get("/").get_data(as_text=True)) == [
        "Tableau de bord",
        "Habilitations",
        "Demandes à instruire",
        "Catalogue des dispositifs",
        "Personnes",
        "Caisses",
        "Import",
        "Messages ciblés",
        "Statistiques",
        "Demandes d&#39;assistance",  # as the HTML writes it
        "Mon compte",
        "Aide et assistance",
    ]
