"""Is an accreditation valid on a date? (SPEC §5: not past its end, not suspended.)"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from app.models import Accreditation, Suspension

EXPIRING_MONTHS = 6


@dataclass(frozen=True)
class Status:
    code: str
    label: str


VALID = Status("valide", "Valide")
EXPIRING = Status("expire_bientot", "Valide — expire dans moins de 6 mois")
EXPIRED = Status("expiree", "Expirée")
SUSPENDED = Status("suspendue", "Suspendue")
NOT_STARTED = Status("a_venir", "Pas encore en vigueur")


def suspensions_by_accreditation(db: Session, ids: list[int]) -> dict[int, list[Suspension]]:
    """The suspensions of several accreditations in one query."""
    found: dict[int, list[Suspension]] = defaultdict(list)
    if ids:
        for s in db.exec(select(Suspension).where(Suspension.accreditation_id.in_(ids))).all():
            found[s.accreditation_id].append(s)
    return found


def suspension_on(suspensions: list[Suspension], day: date) -> Suspension | None:
    return next((s for s in suspensions if s.start_date <= day <= s.end_date), None)


def valid_some_day(
    accreditation: Accreditation, suspensions: list[Suspension], first: date, last: date
) -> bool:
    """Is the accreditation valid on at least one day from `first` to `last`?"""
    day = max(first, accreditation.start_date)
    for s in sorted(suspensions, key=lambda s: s.start_date):
        if s.start_date > day:
            break  # `day` falls before this suspension and after the earlier ones
        if s.end_date >= day:
            day = s.end_date + timedelta(days=1)
    return day <= min(last, accreditation.end_date)


def status_on(accreditation: Accreditation, suspensions: list[Suspension], day: date) -> Status:
    if day > accreditation.end_date:
        return EXPIRED
    if day < accreditation.start_date:
        return NOT_STARTED
    if suspension_on(suspensions, day):
        return SUSPENDED
    if accreditation.end_date < day + relativedelta(months=EXPIRING_MONTHS):
        return EXPIRING
    return VALID
