"""One clock for the whole app: aware UTC datetimes in storage, Paris dates for rules.

Tests move time with `frozen(...)`; production never sets it.
"""

from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
_frozen: datetime | None = None


def utcnow() -> datetime:
    """Aware UTC (what every DateTime column stores)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def today() -> date:
    """Today's date in Paris: the date rules and users reason about."""
    return to_paris(utcnow()).date()


def to_paris(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PARIS)


@contextmanager
def frozen(moment: datetime):
    global _frozen
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    previous, _frozen = _frozen, moment
    try:
        yield
    finally:
        _frozen = previous
