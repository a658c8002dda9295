"""A deactivated account stays shut whichever door is tried: a forgotten-password link is
not sent (even to an account that never had a password: imported people and those waiting
for their first-password link), a link sent before the deactivation no longer sets a
password, a login session still carrying the right version is ended, and the caisses'
screen does not hand the instructor role (with its link) to a deactivated person."""

import pytest
from sqlmodel import select

from app.clock import utcnow
from app.domain.accounts import (
    Purpose,
    issue_link,
    request_password_link,
    set_password_with_link,
)
from app.domain.errors import DomainError
from app.domain.funds_admin import add_instructor
from app.models import OutboxEmail, Person
from app.models.people import Role
from tests import factories


def _deactivate(db, person: Person) -> None:
    person.active, person.deactivated_at = False, utcnow()
    db.add(person)
    db.commit()


def _mails_to(db, person: Person) -> list[OutboxEmail]:
    return list(db.exec(select(OutboxEmail).where(OutboxEmail.to_address == person.email)).all())


@pytest.mark.parametrize("had_password", [True, False], ids=["avec-mot-de-passe", "sans"])
def test_no_forgotten_password_link_for_a_deactivated_account(db, had_password):
    person = factories.person(db, email="desactive@exemple.fr", onboarded=had_password)
    if not had_password:
        person.password_hash = None
    _deactivate(db, person)
    request_password_link(db, "desactive@exemple.fr")
    request_password_link(db, person.forprev_number)
    db.commit()
    assert _mails_to(db, person) == []


def test_a_link_sent_before_the_deactivation_sets_no_password(db):
    person = factories.person(db, email="lien@exemple.fr")
    person.password_hash, person.active = None, False
    db.add(person)
    raw = issue_link(db, person, Purpose.PASSWORD)
    db.commit()
    person.deactivated_at = utcnow()
    db.add(person)
    db.commit()
    with pytest.raises(DomainError, match="lien"):
        set_password_with_link(db, raw, "Un-Nouveau-Mot-de-passe-2026")
    db.rollback()
    db.refresh(person)
    assert person.password_hash is None and person.active is False


def test_a_login_session_of_a_deactivated_account_ends_even_with_its_version(client, login_as, db):
    person = factories.person(db, email="session@exemple.fr")
    factories.grant(db, person, Role.FORMATEUR)
    db.commit()
    logged_in = login_as(person)
    assert logged_in.get("/mon-compte").status_code == 200
    # deactivated by a write that did not bump auth_version (an import, a bulk update)
    person.deactivated_at = utcnow()
    db.add(person)
    db.commit()
    answer = logged_in.get("/mon-compte")
    assert answer.status_code == 302 and answer.location.startswith("/connexion")


def test_the_instructor_role_is_not_given_to_a_deactivated_account(db):
    admin = factories.person(db, email="admin@exemple.fr")
    person = factories.person(db, first_name="Luc", last_name="BRUN", email="luc@carsat.fr")
    _deactivate(db, person)
    with pytest.raises(DomainError) as refused:
        add_instructor(
            db,
            actor_id=admin.id,
            fund_id=factories.fund(db, "ALSACE-MOSELLE").id,
            last_name="Brun",
            first_name="Luc",
            email="luc@carsat.fr",
        )
    assert refused.value.field == "email"
    assert str(refused.value) == (
        "Le compte de Luc BRUN est désactivé : réactivez-le d'abord sous « Personnes »."
    )
    db.rollback()
    assert _mails_to(db, person) == []
