"""Finding a person by e-mail or Forprev number and checking the password."""

from sqlalchemy import func
from sqlmodel import Session, select

from app.clock import utcnow
from app.domain.identifiers import is_forprev_number, normalize_forprev_number
from app.domain.passwords import verify_password
from app.models import Person

LOGIN_FAILED = "Identifiant ou mot de passe incorrect."
# said only to whoever gave the right password: it tells nothing to someone guessing
DEACTIVATED = "Ce compte a été désactivé. Contactez l'assistance."


def login_key(identifier: str) -> str:
    """What throttling counts failures on: the identifier as typed, normalised, so an
    unknown identifier is throttled exactly like a known one."""
    identifier = (identifier or "").strip()
    number = normalize_forprev_number(identifier)
    return number if is_forprev_number(number) else identifier.lower()


def find_person(db: Session, identifier: str) -> Person | None:
    identifier = (identifier or "").strip()
    number = normalize_forprev_number(identifier)
    if is_forprev_number(number):
        return db.exec(select(Person).where(Person.forprev_number == number)).first()
    return db.exec(select(Person).where(func.lower(Person.email) == identifier.lower())).first()


class AccountDeactivated(Exception):
    """The right password for an account an administrator or instructor deactivated."""


def authenticate(db: Session, identifier: str, password: str) -> Person | None:
    """The person if the password matches, else None (the same answer whether the account
    exists or not). Only the right password learns that the account is deactivated
    (AccountDeactivated): a guess never does."""
    person = find_person(db, identifier)
    ok = verify_password(person.password_hash if person else None, password)
    if ok and person is not None and person.deactivated_at is not None:
        raise AccountDeactivated
    if not ok or person is None or not person.active:
        return None
    person.last_login_at = utcnow()
    db.add(person)
    return person
