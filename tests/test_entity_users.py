"""Utilisateurs (SPEC §6): a gestionnaire adds, changes and removes the entity's people.
A person already in Forprev is reused, never created twice; a new one gets the
first-password link; the last gestionnaire stays; a revoked role leaves the switcher at
the next request; a délégataire sees only what was delegated; another entity's people
are out of reach."""

import html as html_lib
import re
from datetime import date

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.models import (
    AuditEvent,
    CertSession,
    Delegation,
    OutboxEmail,
    Person,
    RoleGrant,
)
from app.models.people import Role
from tests import factories
from tests.conftest import AuthActions, csrf_token


@pytest.fixture
def entity(db):
    """MAROSE FORMATION, accredited SST 1 and PRAP-IBC 1, and its one gestionnaire."""
    org = factories.organization(db, name="MAROSE FORMATION")
    sst = factories.accreditation(db, org, scheme_code="SST", level=1)
    prap = factories.accreditation(db, org, scheme_code="PRAP-IBC", level=1)
    manager = factories.person(db, first_name="Romain", last_name="MARTIN", email="romain@ex.fr")
    grant = factories.grant(db, manager, Role.GESTIONNAIRE, organization=org)
    db.commit()
    return {"org": org, "sst": sst, "prap": prap, "manager": manager, "grant": grant}


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _error(response, field_id: str) -> str | None:
    match = re.search(
        rf'<p class="error" id="{field_id}-erreur" role="alert">([^<]+)</p>', _text(response)
    )
    return match.group(1) if match else None


def _form_error(response) -> str | None:
    match = re.search(r'<div class="form-error" role="alert"><p>([^<]+)</p>', _text(response))
    return match.group(1) if match else None


def _add(client, **fields):
    data = {
        "last_name": "Durand",
        "first_name": "Élodie",
        "birth_date": "14/07/1990",
        "email": "elodie.durand@ex.fr",
        "role": "delegataire",
        "csrf_token": csrf_token(client, "/entite/utilisateurs/"),
        **fields,
    }
    return client.post("/entite/utilisateurs/", data=data)


def _people(db) -> int:
    db.expire_all()
    return db.exec(select(func.count(Person.id))).one()


def _grants(db, person_id: int) -> list[tuple[str, int | None, bool]]:
    db.expire_all()
    return sorted(
        (g.role, g.organization_id, g.active)
        for g in db.exec(select(RoleGrant).where(RoleGrant.person_id == person_id))
    )


def _switcher(html: str) -> list[str]:
    header = html.split("</header>")[0]
    return re.findall(r"<option [^>]*>([^<]+)</option>", html_lib.unescape(header))


def test_a_new_colleague_gets_an_account_and_the_first_password_link(
    client, login_as, db, entity, app
):
    login_as(entity["manager"])
    page = _text(client.get("/entite/utilisateurs/"))
    assert "Utilisateurs" in page and "MARTIN Romain" in page
    assert 'href="/entite/utilisateurs/"' in page  # the menu entry
    before = _people(db)

    response = _add(client, accreditation_ids=[str(entity["sst"].id)])

    assert response.status_code == 302, _text(response)
    assert _people(db) == before + 1
    person = db.exec(select(Person).where(Person.email == "elodie.durand@ex.fr")).one()
    assert (person.last_name, person.first_name, person.birth_date) == (
        "DURAND",
        "Élodie",
        date(1990, 7, 14),
    )
    assert person.password_hash is None and not person.active
    assert _grants(db, person.id) == [("delegataire", entity["org"].id, True)]
    delegated = db.exec(select(Delegation).where(Delegation.person_id == person.id)).all()
    assert [d.accreditation_id for d in delegated] == [entity["sst"].id]
    listing = _text(client.get("/entite/utilisateurs/"))
    assert "elodie.durand@ex.fr" in listing and entity["sst"].number in listing
    assert entity["prap"].number not in listing.split("Ajouter un utilisateur")[0]
    assert "le lien pour choisir son mot de passe a été envoyé à elodie.durand@ex.fr" in listing
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "entity_user.added")).one()
    assert event.actor_id == entity["manager"].id and event.data["person_id"] == person.id

    # the mail carries the 72-hour link; following it opens the account with the role
    mail = db.exec(select(OutboxEmail).where(OutboxEmail.to_address == person.email)).one()
    assert mail.subject == "Forprev : votre compte a été créé"
    assert "vous êtes délégataire de l'entité MAROSE FORMATION" in mail.text_body
    assert person.forprev_number in mail.text_body
    link = re.search(r"(/mot-de-passe/nouveau/[A-Za-z0-9_-]+)", mail.text_body).group(1)
    other = app.test_client()
    answer = other.post(
        link,
        data={
            "password": "Nouveau-mdp-2026",
            "confirm": "Nouveau-mdp-2026",
            "csrf_token": csrf_token(other, link),
        },
    )
    assert answer.status_code == 302  # logged in with the role given
    assert "Délégataire — MAROSE FORMATION" in _text(other.get("/premiere-connexion"))


def test_an_existing_person_is_reused_by_email_and_by_identity(client, login_as, db, entity):
    known = factories.person(
        db,
        first_name="Hélène",
        last_name="LEFÈVRE",
        email="helene@ex.fr",
        birth_date=date(1985, 3, 2),
    )
    factories.grant(db, known, Role.FORMATEUR)
    twin = factories.person(
        db,
        first_name="Jean-Luc",
        last_name="NOËL",
        email="jl.noel@ex.fr",
        birth_date=date(1979, 12, 24),
    )
    db.commit()
    login_as(entity["manager"])
    before = _people(db)

    # by e-mail, typed in capitals, with a name written otherwise
    response = _add(
        client,
        email="HELENE@EX.FR",
        last_name="Lefevre",
        first_name="Helene",
        birth_date="02/03/1985",
        role="gestionnaire",
    )
    assert response.status_code == 302, _text(response)
    # by identity, accents and case aside, with another address
    response = _add(
        client,
        email="jean-luc.perso@ex.fr",
        last_name="noel",
        first_name="jean luc",
        birth_date="24/12/1979",
        accreditation_ids=[str(entity["prap"].id)],
    )
    assert response.status_code == 302, _text(response)

    assert _people(db) == before, "no second Person for the same one"
    assert ("gestionnaire", entity["org"].id, True) in _grants(db, known.id)
    assert ("formateur", None, True) in _grants(db, known.id)
    assert _grants(db, twin.id) == [("delegataire", entity["org"].id, True)]
    db.refresh(twin)
    assert twin.email == "jl.noel@ex.fr"  # the account keeps its own address
    # people who already log in get no new password link
    assert db.exec(select(func.count(OutboxEmail.id))).one() == 0
    page = _text(client.get("/entite/utilisateurs/"))
    assert f"avait déjà un compte Forprev (numéro {twin.forprev_number})" in page

    # added again: refused, nothing doubled
    again = _add(
        client,
        email="helene@ex.fr",
        last_name="Lefèvre",
        first_name="Hélène",
        birth_date="02/03/1985",
        role="delegataire",
        accreditation_ids=[str(entity["sst"].id)],
    )
    assert again.status_code == 422
    assert _error(again, "email") == (
        "Hélène LEFÈVRE est déjà gestionnaire de l'entité : modifiez son rôle dans la liste."
    )
    assert ("delegataire", entity["org"].id, True) not in _grants(db, known.id)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"role": "delegataire"},
            "accreditation_ids",
            "Choisissez au moins une habilitation à déléguer.",
        ),
        ({"role": ""}, "role", "Choisissez le rôle : gestionnaire ou délégataire."),
        ({"role": "administrateur"}, "role", "Choisissez le rôle : gestionnaire ou délégataire."),
        (
            {"email": "pas-une-adresse"},
            "email",
            "Saisissez une adresse e-mail valide, par exemple marie.dupont@exemple.fr.",
        ),
        (
            {"birth_date": "31/02/1990"},
            "birth_date",
            "Saisissez une date valide, par exemple 14/07/1990.",
        ),
        ({"last_name": ""}, "last_name", "Saisissez le nom."),
    ],
)
def test_bad_input_is_refused_next_to_its_field(
    client, login_as, db, entity, fields, field, message
):
    login_as(entity["manager"])
    before = _people(db)
    response = _add(client, **fields)
    assert response.status_code == 422
    assert _error(response, field) == message
    page = _text(response)
    if field != "last_name":
        assert 'value="Durand"' in page  # the rest is kept
    if field != "email":
        assert 'value="elodie.durand@ex.fr"' in page
    assert _people(db) == before


def test_the_last_gestionnaire_can_be_neither_removed_nor_demoted(client, login_as, db, entity):
    login_as(entity["manager"])
    url = f"/entite/utilisateurs/{entity['grant'].id}"
    token = csrf_token(client, url)
    message = (
        "Romain MARTIN est le seul gestionnaire de l'entité : ajoutez d'abord un autre "
        "gestionnaire, l'entité ne peut pas rester sans gestionnaire."
    )

    removed = client.post(f"{url}/retirer", data={"csrf_token": token})
    assert removed.status_code == 422
    assert _form_error(removed) == message
    demoted = client.post(
        url,
        data={
            "role": "delegataire",
            "accreditation_ids": [str(entity["sst"].id)],
            "csrf_token": token,
        },
    )
    assert demoted.status_code == 422
    assert _error(demoted, "role") == message
    assert _grants(db, entity["manager"].id) == [("gestionnaire", entity["org"].id, True)]
    assert db.exec(select(func.count(Delegation.id))).one() == 0

    # with a second gestionnaire, the first may step down
    assert _add(client, role="gestionnaire").status_code == 302
    demoted = client.post(
        url,
        data={
            "role": "delegataire",
            "accreditation_ids": [str(entity["sst"].id)],
            "csrf_token": token,
        },
    )
    assert demoted.status_code == 302
    assert _grants(db, entity["manager"].id) == [("delegataire", entity["org"].id, True)]
    db.refresh(entity["grant"])  # the same role row, changed in place
    assert (entity["grant"].role, entity["grant"].active) == ("delegataire", True)


def test_a_revoked_role_leaves_the_switcher_at_the_next_request(client, login_as, db, entity, app):
    colleague = factories.person(
        db, first_name="Stéphane", last_name="DELORME", email="stephane@ex.fr"
    )
    delegate = factories.grant(db, colleague, Role.DELEGATAIRE, organization=entity["org"])
    factories.grant(db, colleague, Role.FORMATEUR)
    db.add(Delegation(person_id=colleague.id, accreditation_id=entity["sst"].id))
    db.commit()
    theirs = app.test_client()
    AuthActions(theirs).login("stephane@ex.fr")
    AuthActions(theirs).switch(delegate.id)
    assert "Délégataire — MAROSE FORMATION" in _switcher(theirs.get("/").get_data(as_text=True))
    assert theirs.get("/sessions/nouvelle").status_code == 200

    login_as(entity["manager"])
    url = f"/entite/utilisateurs/{delegate.id}"
    answer = client.post(f"{url}/retirer", data={"csrf_token": csrf_token(client, url)})
    assert answer.status_code == 302
    assert "Le rôle délégataire de Stéphane DELORME est retiré." in _text(
        client.get("/entite/utilisateurs/")
    )

    html = theirs.get("/").get_data(as_text=True)
    assert "Délégataire — MAROSE FORMATION" not in html
    assert "Formateur" in html  # the role left is the active one
    assert theirs.get("/sessions/nouvelle").status_code == 403
    db.expire_all()
    assert db.get(Delegation, db.exec(select(Delegation.id)).one()).revoked_at is not None


def test_a_delegataire_sees_only_the_delegated_accreditation(client, login_as, db, entity, app):
    """Added by the gestionnaire for SST alone: "Nouvelle session" offers SST alone, and
    the list shows the sessions they declared, not the entity's others."""
    colleague = factories.person(
        db, first_name="Stéphane", last_name="DELORME", email="stephane@ex.fr"
    )
    db.commit()
    login_as(entity["manager"])
    assert (
        _add(
            client,
            email="stephane@ex.fr",
            last_name="Delorme",
            first_name="Stéphane",
            accreditation_ids=[str(entity["sst"].id)],
        ).status_code
        == 302
    )
    org = entity["org"]
    for acc, creator in ((entity["sst"], colleague), (entity["prap"], entity["manager"])):
        db.add(
            CertSession(
                organization_id=org.id,
                accreditation_id=acc.id,
                scheme_level_id=acc.scheme_level_id,
                created_by_id=creator.id,
                location=f"Salle {acc.number}",
            )
        )
    db.commit()

    theirs = app.test_client()
    AuthActions(theirs).login("stephane@ex.fr")
    new = _text(theirs.get("/sessions/nouvelle"))
    options = re.findall(r'<option value="(\d+)"', new.split('id="certificate_model_id"')[0])
    assert options == [str(entity["sst"].id)]
    listing = _text(theirs.get("/sessions/"))
    assert listing.count("SST / 1") == 1 and "PRAP-IBC" not in listing.split("<table")[1]
    # the gestionnaire sees both
    assert "PRAP-IBC / 1" in _text(client.get("/sessions/"))


def test_a_person_managing_two_entities_switches_between_them(client, login_as, db, entity):
    other = factories.organization(
        db, name="FORMATION GUY", postal_code="75011", fund_code="CRAMIF"
    )
    second = factories.grant(db, entity["manager"], Role.GESTIONNAIRE, organization=other)
    karine = factories.person(db, first_name="Karine", last_name="PARIS", email="karine@ex.fr")
    factories.grant(db, karine, Role.GESTIONNAIRE, organization=other)
    db.commit()
    login_as(entity["manager"])
    html = client.get("/entite/utilisateurs/").get_data(as_text=True)
    assert _switcher(html) == ["Gestionnaire — MAROSE FORMATION", "Gestionnaire — FORMATION GUY"]
    assert "PARIS Karine" not in html

    AuthActions(client).switch(second.id)
    html = _text(client.get("/entite/utilisateurs/"))
    assert 'Utilisateurs <span class="subtitle">FORMATION GUY' in html
    assert "PARIS Karine" in html and "MARTIN Romain" in html
    assert re.search(r"<option [^>]*selected>Gestionnaire — FORMATION GUY<", html)


def test_forged_posts_cannot_reach_another_entity(client, login_as, db, entity, app):
    other = factories.organization(
        db, name="FORMATION GUY", postal_code="75011", fund_code="CRAMIF"
    )
    karine = factories.person(db, first_name="Karine", last_name="PARIS", email="karine@ex.fr")
    factories.grant(db, karine, Role.GESTIONNAIRE, organization=other)
    colleague = factories.person(db, email="colleague@ex.fr")
    delegate = factories.grant(db, colleague, Role.DELEGATAIRE, organization=entity["org"])
    db.add(Delegation(person_id=colleague.id, accreditation_id=entity["sst"].id))
    db.commit()
    before = (_people(db), _grants(db, entity["manager"].id), _grants(db, colleague.id))
    events = db.exec(select(func.count(AuditEvent.id))).one()

    login_as(karine)
    token = csrf_token(client, "/entite/utilisateurs/")
    for url in (
        f"/entite/utilisateurs/{entity['grant'].id}",
        f"/entite/utilisateurs/{delegate.id}",
    ):
        assert client.get(url).status_code == 404
        assert (
            client.post(url, data={"role": "gestionnaire", "csrf_token": token}).status_code == 404
        )
        assert client.post(f"{url}/retirer", data={"csrf_token": token}).status_code == 404
    # an accreditation of MAROSE delegated from FORMATION GUY's screen
    forged = _add(client, accreditation_ids=[str(entity["sst"].id)])
    assert forged.status_code == 422
    assert _error(forged, "accreditation_ids") == (
        "Seules les habilitations actives de l'entité peuvent être déléguées."
    )

    # a délégataire manages no one
    theirs = app.test_client()
    AuthActions(theirs).login("colleague@ex.fr")
    assert theirs.get("/entite/utilisateurs/").status_code == 403
    assert _add(theirs, role="gestionnaire").status_code == 403

    assert (_people(db), _grants(db, entity["manager"].id), _grants(db, colleague.id)) == before
    assert db.exec(select(func.count(AuditEvent.id))).one() == events
    assert db.exec(select(Delegation.revoked_at)).all() == [None]
