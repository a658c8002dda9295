"""The accreditation request's screen (app/blueprints/accreditation_requests/views.py)
through the HTTP client with a real database: its tabs per role, the draft saved on moving
to another tab, the inline check of the dispositif, uploads through the one upload path,
"Soumettre" and "Abandonner", the version's 409, who may open it, and the renewal window."""

import io
import re
from dataclasses import dataclass

import pytest
from pypdf import PdfWriter
from sqlmodel import select

from app.domain import accreditation_flow as flow
from app.domain.access import ActiveRole
from app.models import (
    AccreditationRequest,
    DocumentRequirement,
    RoleGrant,
)
from app.models.people import Role
from seeds.reference import load_reference
from tests import factories
from tests.conftest import csrf_token

BASE = "/habilitations/demandes"


def _pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PDF = _pdf()


def text_of(response) -> str:
    """The page's text, tags removed and spaces folded (what a reader sees)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").strip()


def active(grant: RoleGrant) -> ActiveRole:
    return ActiveRole(
        grant_id=grant.id,
        person_id=grant.person_id,
        role=Role(grant.role),
        organization_id=grant.organization_id,
        fund_id=grant.fund_id,
    )


@dataclass
class World:
    org: object
    people: dict
    grants: dict

    def role(self, name) -> ActiveRole:
        return active(self.grants[name])


@pytest.fixture
def w(app, db):
    """An entity of Carsat Alsace-Moselle with two gestionnaires and a délégataire; an
    instructor of its caisse and one of the Cramif; an administrator."""
    with app.test_request_context():
        if db.exec(select(DocumentRequirement.id)).first() is None:
            # the catalogue's document rows are reference data a previous test's cleanup
            # removed (tests/conftest.py keeps only the tables it lists)
            load_reference(db)
        org = factories.organization(db, name="ATELIER SÉCURITÉ", postal_code="67000")
        org.signatory_last_name, org.signatory_first_name = "DURAND", "Claire"
        org.signatory_function = "Directrice"
        org.siret, org.regime = "73282932000074", "Régime général"
        org.activity_number = "42670000067"
        db.add(org)
        alsace, cramif = factories.fund(db), factories.fund(db, "CRAMIF")
        people, grants = {}, {}

        def make(name, role, first, last, *, organization=None, fund=None):
            person = factories.person(
                db, first_name=first, last_name=last, email=f"{name}@exemple.fr"
            )
            people[name] = person
            grants[name] = factories.grant(db, person, role, organization=organization, fund_=fund)

        make("gestionnaire", Role.GESTIONNAIRE, "Alice", "MARTIN", organization=org)
        make("gestionnaire_2", Role.GESTIONNAIRE, "Bruno", "PETIT", organization=org)
        make("delegataire", Role.DELEGATAIRE, "Denis", "ROUX", organization=org)
        make("instructeur", Role.INSTRUCTEUR, "Inès", "CAISSE", fund=alsace)
        make("instructeur_cramif", Role.INSTRUCTEUR, "Iris", "AILLEURS", fund=cramif)
        make("administrateur", Role.ADMINISTRATEUR, "Adam", "NATIONAL")
        db.commit()
    # no context kept open: the client's requests would share its `g`
    return World(org, people, grants)


def level_id(db, scheme="SST", level=1) -> int:
    return factories.scheme_level(db, scheme, level).id


def new_request(app, db, w, scheme=None, level=1) -> AccreditationRequest:
    with app.test_request_context():
        request = flow.new_request(db, w.role("gestionnaire"))
        if scheme:
            flow.save_pedagogique(
                db, w.role("gestionnaire"), request, request.version, level_id(db, scheme, level)
            )
        db.commit()
    return request


def version_of(db, request_id: int) -> int:
    db.expire_all()
    return db.get(AccreditationRequest, request_id).version


def post(client, url: str, data: dict | None = None, htmx: bool = False, **kwargs):
    data = {"csrf_token": csrf_token(client, "/"), **(data or {})}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url, data=data, headers=headers, **kwargs)


# --- the tabs ----------------------------------------------------------------------------


def test_the_gestionnaire_sees_each_tab_with_its_content(app, db, w, login_as):
    request = new_request(app, db, w, "SST", 2)
    client = login_as(w.people["gestionnaire"])

    page = client.get(f"{BASE}/{request.id}/informations")
    assert page.status_code == 200
    text = text_of(page)
    assert f"Demande d'habilitation n° {request.id} SST / 2 ATELIER SÉCURITÉ" in text
    assert "MARTIN Alice gestionnaire@exemple.fr" in text
    assert "PETIT Bruno gestionnaire_2@exemple.fr" in text
    assert "ROUX" not in text  # a délégataire is no gestionnaire
    assert "Caisse instructrice Carsat Alsace-Moselle" in text
    assert "Mon commentaire" in text and "Soumettre" in text
    assert "Pédagogique : déposez « Lettre d'engagement signée »." in text
    html = page.get_data(as_text=True)
    assert 'role="tablist"' in html and 'aria-selected="true"' in html
    assert [t for t in re.findall(r'role="tab" id="onglet-(\w+)"', html)] == [
        "informations",
        "entite",
        "pedagogique",
        "historique",
    ]

    entite = text_of(client.get(f"{BASE}/{request.id}/entite"))
    for value in ("ATELIER SÉCURITÉ", "73282932000074", "Régime général", "42670000067"):
        assert value in entite
    assert "Claire DURAND, Directrice" in entite
    assert "Modifier les informations de l'entité" in entite

    pedagogique = client.get(f"{BASE}/{request.id}/pedagogique")
    text = text_of(pedagogique)
    assert "Télécharger la lettre d'engagement à signer" in text
    assert "Lettre d'engagement signée" in text
    # level 2 asks for the programmes and the déroulés
    assert "Programmes de formation Fichiers PDF" in text
    assert "Programmes de formation (facultatif)" not in text

    historique = text_of(client.get(f"{BASE}/{request.id}/historique"))
    assert "Création" in historique and "Alice MARTIN" in historique
