"""Certificate numbers, unique and sequential per year, and unguessable verification codes."""

import secrets

from sqlalchemy import update
from sqlmodel import Session, select

from app.models import NumberSequence


def next_in_sequence(db: Session, name: str, year: int = 0) -> int:
    """The next value of a named counter; the row lock (PostgreSQL) or the write lock
    (SQLite) taken by the UPDATE makes concurrent callers wait their turn."""
    updated = db.exec(
        update(NumberSequence)
        .where(NumberSequence.name == name, NumberSequence.year == year)
        .values(value=NumberSequence.value + 1)
    ).rowcount
    if not updated:
        db.add(NumberSequence(name=name, year=year, value=1))
        db.flush()
        return 1
    return db.exec(
        select(NumberSequence.value).where(NumberSequence.name == name, NumberSequence.year == year)
    ).one()


def next_certificate_number(db: Session, year: int) -> str:
    return f"{year}-{next_in_sequence(db, 'certificat', year):06d}"


def new_verification_code() -> str:
    return secrets.token_urlsafe(24)
