"""Mon entité (SPEC §4): administrative data waits for the caisse as one pending change
(the new caisse when the address moves department), withdrawable; the signataire and the
public listing apply at once; every save names its version; another entity is out of
reach."""

import html as html_lib
import re

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.models import AuditEvent, Notification, Organization, OrganizationChange, StoredFile
from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token

SIRET = "73282932000074"  # a valid Luhn key


@pytest.fixture
def entity(db):
    org = factories.organization(db, name="MAROSE FORMATION")
    org.siret, org.regime, org.city = SIRET, "Régime général", "Strasbourg"
    manager = factories.person(db, first_name="Romain", last_name="MARTIN")
    factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    alsace = factories.person(db, email="instr.alsace@ex.fr")
    factories.grant(db, alsace, Role.INSTRUCTEUR, fund_=factories.fund(db, "ALSACE-MOSELLE"))
    cramif = factories.person(db, email="instr.cramif@ex.fr")
    factories.grant(db, cramif, Role.INSTRUCTEUR, fund_=factories.fund(db, "CRAMIF"))
    db.add(org)
    db.commit()
    return {"org": org, "manager": manager, "alsace": alsace, "cramif": cramif}


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _error(response, field_id: str) -> str | None:
    match = re.search(
        rf'<p class="error" id="{field_id}-erreur" role="alert">([^<]+)</p>', _text(response)
    )
    return match.group(1) if match else None


def _form(client, path: str) -> dict:
    html = client.get(path).get_data(as_text=True)
    fields = dict(re.findall(r'<input [^>]*?name="(\w+)"[^>]*?value="([^"]*)"', html))
    fields.update(re.findall(r'<input [^>]*?value="([^"]*)"[^>]*?name="(\w+)"', html)[:0])
    for name, value in re.findall(r'id="(\w+)" name="\w+"[^>]*?value="([^"]*)"', html):
        fields.setdefault(name, value)
    kind = re.search(r'<option selected value="(\w+)"', html) or re.search(
        r'<option value="(\w+)" selected', html
    )
    if kind:
        fields["kind"] = kind.group(1)
    fields["csrf_token"] = csrf_token(client, path)
    return {k: html_lib.unescape(v) for k, v in fields.items()}


def _changes(db) -> list[OrganizationChange]:
    db.expire_all()
    return list(db.exec(select(OrganizationChange).order_by(OrganizationChange.id)))


def test_an_address_in_another_department_waits_for_the_new_caisse(client, login_as, db, entity):
    login_as(entity["manager"])
    data = _form(client, "/entite/modifier")
    assert data["postal_code"] == "67000" and data["siret"] == SIRET
    data.update(address="12 rue de la Roquette", postal_code="75011", city="Paris")

    response = client.post("/entite/modifier", data=data)

    assert response.status_code == 302, _text(response)
    [change] = _changes(db)
    assert change.status == "en_attente"
    assert change.changes == {
        "address": "12 rue de la Roquette",
        "postal_code": "75011",
        "city": "Paris",
        "department_code": "75",
    }
    assert change.fund_id == factories.fund(db, "CRAMIF").id
    db.refresh(entity["org"])
    assert entity["org"].postal_code == "67000"  # in force until the caisse accepts
    page = _text(client.get("/entite/"))
    assert "Modification en attente de validation" in page
    assert "12 rue de la Roquette (en vigueur : 1 rue Test)" in re.sub(r"<[^>]+>", "", page)
    assert "1 rue Test, 67000 Strasbourg" in page
    # the new caisse's instructor has a task, the old one none
    tasks = db.exec(select(Notification.person_id, Notification.link)).all()
    assert tasks == [(entity["cramif"].id, f"/instruction/modifications/{change.id}")]
    assert (
        db.exec(select(AuditEvent).where(AuditEvent.action == "organization_change.requested"))
        .one()
        .object_id
        == change.id
    )

    # one at a time
    assert "Une modification est déjà en attente" in _text(client.get("/entite/modifier"))
    db.refresh(entity["org"])
    again = client.post(
        "/entite/modifier", data={**data, "name": "MAROSE", "version": entity["org"].version}
    )
    assert again.status_code == 422
    assert "Une modification est déjà en attente de validation par la caisse" in _text(again)
    stale = client.post("/entite/modifier", data={**data, "name": "MAROSE"})
    assert stale.status_code == 409
    assert len(_changes(db)) == 1

    # withdrawn: gone from the page, the task closed
    forms = re.findall(
        r'action="(/entite/modifications/\d+/retirer)"', _text(client.get("/entite/"))
    )
    withdraw = _form(client, "/entite/")
    answer = client.post(
        forms[0], data={"version": str(change.version), "csrf_token": withdraw["csrf_token"]}
    )
    assert answer.status_code == 302
    assert _changes(db)[0].status == "retiree"
    assert "Modification en attente" not in _text(client.get("/entite/"))
    assert db.exec(select(Notification.done_at)).one() is not None
    # a new change is possible again, instructed by the entity's own caisse
    data = _form(client, "/entite/modifier")
    data["name"] = "MAROSE FORMATION SAS"
    assert client.post("/entite/modifier", data=data).status_code == 302
    assert _changes(db)[1].fund_id == entity["org"].fund_id
    assert _changes(db)[1].changes == {"name": "MAROSE FORMATION SAS"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "siret",
            "73282932000075",
            "Ce SIRET n'existe pas : sa clé de contrôle est fausse. "
            "Vérifiez-le sur votre avis de situation Insee.",
        ),
        ("siret", "7328293200007", "Le SIRET doit comporter 14 chiffres."),
        ("postal_code", "00000", None),
        ("city", "Lyon", "Le code postal 67000 est celui de Strasbourg, pas de Lyon."),
        ("name", "", "La raison sociale doit être renseignée."),
    ],
)
def test_bad_administrative_data_is_refused_and_kept(
    client, login_as, db, entity, field, value, message
):
    login_as(entity["manager"])
    data = _form(client, "/entite/modifier")
    data.update({"regime": "Hors régime", field: value})
    response = client.post("/entite/modifier", data=data)
    assert response.status_code == 422
    assert _error(response, field) == message or (message is None and _error(response, field))
    assert 'value="Hors régime"' in _text(response)
    assert _changes(db) == []
    # the live check says the same
    live = client.post("/entite/modifier/verifier", data=data, headers={"HX-Request": "true"})
    assert _error(live, field) == _error(response, field)


def test_a_refused_attestation_stores_nothing(client, login_as, db, entity):
    import io

    login_as(entity["manager"])
    data = _form(client, "/entite/modifier")
    data["urssaf_file"] = (io.BytesIO(b"MZ\x90\x00 not a pdf"), "attestation.pdf")
    data["urssaf_issued_on"] = "01/01/2000"
    response = client.post("/entite/modifier", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert _error(response, "urssaf_file").startswith("Ce fichier n'est pas un PDF")
    assert _error(response, "urssaf_issued_on").startswith("L'attestation URSSAF doit dater")
    assert db.exec(select(func.count(StoredFile.id))).one() == 0
    assert _changes(db) == []


def test_a_stale_version_gets_a_conflict(client, login_as, db, entity):
    login_as(entity["manager"])
    data = _form(client, "/entite/signataire")
    entity["org"].version += 1
    db.add(entity["org"])
    db.commit()
    data.update(signatory_last_name="It", signatory_first_name="Pascal", signatory_function="Maire")
    response = client.post("/entite/signataire", data=data)
    assert response.status_code == 409
    assert "Un autre gestionnaire a modifié les données" in _text(response)
    db.refresh(entity["org"])
    assert entity["org"].signatory_last_name is None


def test_signataire_and_listing_apply_at_once(client, login_as, db, entity):
    login_as(entity["manager"])
    data = _form(client, "/entite/signataire")
    data.update(signatory_last_name="", signatory_first_name="Pascal", signatory_function="Maire")
    refused = client.post("/entite/signataire", data=data)
    assert refused.status_code == 422
    assert _error(refused, "signatory_last_name") == "Le nom du signataire doit être renseigné."
    assert 'value="Pascal"' in _text(refused)
    data["signatory_last_name"] = "It"
    assert client.post("/entite/signataire", data=data).status_code == 302
    db.refresh(entity["org"])
    assert (entity["org"].signatory_last_name, entity["org"].signatory_function) == ("IT", "Maire")
    assert _changes(db) == []

    listing = _form(client, "/entite/diffusion")
    listing.update(public_listing="y", public_email="", public_phone="", public_website="")
    refused = client.post("/entite/diffusion", data=listing)
    assert _error(refused, "public_listing") == (
        "Pour figurer sur la liste, renseignez au moins une adresse e-mail, un téléphone ou "
        "un site web."
    )
    listing.update(public_phone="03 88", public_website="www.exemple", public_email="x@")
    refused = client.post("/entite/diffusion", data=listing)
    assert refused.status_code == 422
    assert _error(refused, "public_phone").startswith("Saisissez un numéro au format +33")
    assert _error(refused, "public_website").startswith("Saisissez l'adresse complète du site")
    assert _error(refused, "public_email").startswith("Saisissez une adresse e-mail valide")
    listing.update(
        public_phone="+33 3 88 12 34 56",
        public_website="https://www.marose.fr",
        public_email="contact@marose.fr",
    )
    assert client.post("/entite/diffusion", data=listing).status_code == 302
    db.refresh(entity["org"])
    assert entity["org"].public_listing and entity["org"].public_phone == "+33 3 88 12 34 56"
    assert "https://www.marose.fr" in _text(client.get("/entite/"))


def test_a_delegataire_reads_and_another_entity_cannot_withdraw(client, login_as, db, entity, app):
    other = factories.organization(db, name="FORMATION GUY")
    karine = factories.person(db, email="karine@ex.fr")
    factories.grant(db, karine, Role.GESTIONNAIRE, organization=other)
    delegate = factories.person(db, email="delegue@ex.fr")
    factories.grant(db, delegate, Role.DELEGATAIRE, organization=entity["org"])
    change = OrganizationChange(
        organization_id=entity["org"].id,
        requested_by_id=entity["manager"].id,
        changes={"name": "X"},
        fund_id=entity["org"].fund_id,
    )
    db.add(change)
    db.commit()

    login_as(karine)
    token = csrf_token(client, "/entite/")
    answer = client.post(
        f"/entite/modifications/{change.id}/retirer", data={"version": "1", "csrf_token": token}
    )
    assert answer.status_code == 404
    assert _changes(db)[0].status == "en_attente"

    theirs = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(theirs).login("delegue@ex.fr")
    page = _text(theirs.get("/entite/"))
    assert "Modification en attente de validation" in page
    assert "Retirer la modification" not in page and "/entite/modifier" not in page
    assert theirs.get("/entite/modifier").status_code == 403
    assert db.get(Organization, entity["org"].id).name == "MAROSE FORMATION"
