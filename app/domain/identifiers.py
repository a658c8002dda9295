"""Forprev numbers: 3 upper-case letters + 5 digits, random, unique, never reused."""

import re
import secrets
import string

from sqlmodel import Session, select

from app.models import Person

FORPREV_NUMBER = re.compile(r"[A-Z]{3}\d{5}")


def is_forprev_number(value: str) -> bool:
    return bool(FORPREV_NUMBER.fullmatch(value or ""))


def normalize_forprev_number(value: str) -> str:
    return (value or "").strip().upper().replace(" ", "")


def random_forprev_number() -> str:
    letters = "".join(secrets.choice(string.ascii_uppercase) for _ in range(3))
    digits = "".join(secrets.choice(string.digits) for _ in range(5))
    return letters + digits


def new_forprev_number(db: Session) -> str:
    """A number no person holds (the unique constraint is the final guard)."""
    for _ in range(20):
        candidate = random_forprev_number()
        if db.exec(select(Person.id).where(Person.forprev_number == candidate)).first() is None:
            return candidate
    raise RuntimeError("Impossible de trouver un numéro Forprev libre.")
