"""Postal code → department → caisse instructrice (REFERENCE §1)."""

import re

from sqlmodel import Session, select

from app.domain.errors import DomainError
from app.models import Department, Fund

_FIVE_DIGITS = re.compile(r"\d{5}")


def department_for_postal_code(postal_code: str) -> str:
    """The department code of a French postal code, or a DomainError saying why not.

    Only the format is checked here; `fund_for_postal_code` checks the department exists.
    """
    code = (postal_code or "").strip()
    if not _FIVE_DIGITS.fullmatch(code):
        raise DomainError("Le code postal doit comporter 5 chiffres.", field="postal_code")
    if code.startswith("97"):
        return code[:3]
    if code.startswith("20"):
        number = int(code)
        if 20000 <= number <= 20199:
            return "2A"
        if 20200 <= number <= 20699:
            return "2B"
        raise DomainError(
            f"Le code postal {code} ne correspond à aucun département.", field="postal_code"
        )
    return code[:2]


def fund_for_postal_code(db: Session, postal_code: str) -> tuple[Department, Fund]:
    """The department and its caisse for a postal code; unknown departments are refused."""
    department_code = department_for_postal_code(postal_code)
    row = db.exec(
        select(Department, Fund)
        .join(Fund, Fund.id == Department.fund_id)
        .where(Department.code == department_code)
    ).first()
    if row is None:
        raise DomainError(
            f"Le code postal {postal_code.strip()} ne correspond à aucun département "
            "couvert par une caisse.",
            field="postal_code",
        )
    return row
