"""Statistics (SPEC §9): trainees certified and failed, and sessions, read ONLY from the
anonymous counters (`StatCounter`) — never from sessions or trainees, which the purge
deletes — so the figures stay the same before and after every purge.

A session is counted once, when it is closed: `count_session` marks it (`counted_at`) in
the same UPDATE that proves nobody counted it before, so the closing flow, the certificate
job run twice and the purge never count it twice. It adds to four counters: its entity's
and all entities' together (organization_id 0, what national and regional figures read),
each for its month and for its whole year (month 0, what every figure but "sessions per
month" reads) — so no figure adds up thousands of entities' or twelve months' rows. The
counts kept before months and entities were counted are such national year totals.
Each role reads its scope
(`access.statistics_scope`): national, its caisse's departments, its entity.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain.access import ActiveRole, statistics_scope
from app.domain.caisse_routing import department_for_postal_code
from app.domain.errors import DomainError
from app.ids import parse_id
from app.models import (
    CertSession,
    Department,
    Fund,
    Organization,
    Scheme,
    SchemeLevel,
    StatCounter,
    Trainee,
)
from app.models.people import Role

FIRST_YEAR = 2000
LEVELS = (1, 2, 3)
NOT_GIVEN = "Non renseigné"
ALL_ENTITIES = 0  # StatCounter.organization_id of the counts of every entity together
WHOLE_YEAR = 0  # StatCounter.month of the counts of the whole year


# --- counting ---------------------------------------------------------------------------


def _department(cert_session: CertSession, organization: Organization) -> str:
    """Where the session took place; the entity's department when its place is unknown."""
    if cert_session.postal_code:
        try:
            return department_for_postal_code(cert_session.postal_code)
        except DomainError:
            pass
    return organization.department_code or ""


def count_session(db: Session, cert_session: CertSession) -> bool:
    """Add a closed session's results to the anonymous counters, once: False if it was
    already counted. The caller commits (the mark and the counts go together)."""
    marked = db.exec(
        update(CertSession)
        .where(CertSession.id == cert_session.id, CertSession.counted_at.is_(None))
        .values(counted_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not marked:
        return False
    level = db.get(SchemeLevel, cert_session.scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id)
    organization = db.get(Organization, cert_session.organization_id)
    results = db.exec(
        select(Trainee.passed).where(Trainee.cert_session_id == cert_session.id)
    ).all()
    end = cert_session.end_date or today()
    key = {
        "year": end.year,
        "month": end.month,
        "department_code": _department(cert_session, organization),
        "scheme_code": scheme.code,
        "level": level.level,
        "is_refresher": bool(cert_session.is_refresher),
        "organization_id": organization.id,
    }
    counts = {
        "sessions": 1,
        "successes": sum(1 for r in results if r),
        "failures": sum(1 for r in results if r is False),
    }
    for organization_id in (organization.id, ALL_ENTITIES):
        for month in (end.month, WHOLE_YEAR):
            _add(db, {**key, "organization_id": organization_id, "month": month}, **counts)
    return True


def _add(db: Session, key: dict, *, sessions: int, successes: int, failures: int) -> None:
    """Add to the counter of `key`, created if missing; two sessions closed at the same
    moment with the same key both count (the increment is done by the database)."""
    increment = (
        update(StatCounter)
        .filter_by(**key)
        .values(
            sessions=StatCounter.sessions + sessions,
            successes=StatCounter.successes + successes,
            failures=StatCounter.failures + failures,
        )
        .execution_options(synchronize_session=False)
    )
    if db.exec(increment).rowcount:
        return
    try:
        with db.begin_nested():
            db.add(StatCounter(**key, sessions=sessions, successes=successes, failures=failures))
    except IntegrityError:  # created by another closing in the meantime
        db.exec(increment)


# --- filters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatFilters:
    """The filters of the statistics page, as understood: a value that cannot apply (a year
    0, an unknown dispositif, another caisse than one's own) is dropped and said why."""

    start_year: int | None = None
    end_year: int | None = None
    scheme: str | None = None
    level: int | None = None
    fund_id: int | None = None
    ignored: tuple[str, ...] = ()

    def args(self) -> dict:
        """The query string of this view (links, CSV downloads, bookmarks)."""
        values = {
            "annee_debut": self.start_year,
            "annee_fin": self.end_year,
            "dispositif": self.scheme,
            "niveau": self.level,
            "region": self.fund_id,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}


def _year(raw: str | None, label: str, ignored: list[str]) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    last = today().year + 1
    if raw.isascii() and raw.isdigit() and FIRST_YEAR <= int(raw) <= last:
        return int(raw)
    ignored.append(
        f"{label} « {raw[:20]} » n'est pas une année entre {FIRST_YEAR} et {last} : filtre ignoré."
    )
    return None


def parse_filters(db: Session, role: ActiveRole, args) -> StatFilters:
    ignored: list[str] = []
    start = _year(args.get("annee_debut"), "L'année de début", ignored)
    end = _year(args.get("annee_fin"), "L'année de fin", ignored)
    if start and end and start > end:
        start, end = end, start
    scheme = (args.get("dispositif") or "").strip() or None
    if scheme and scheme not in scheme_codes(db):
        ignored.append(f"Le dispositif « {scheme[:30]} » est inconnu : filtre ignoré.")
        scheme = None
    raw_level = (args.get("niveau") or "").strip()
    level = parse_id(raw_level) if raw_level else None
    if raw_level and level not in LEVELS:
        ignored.append(f"Le niveau « {raw_level[:10]} » n'existe pas : filtre ignoré.")
        level = None
    raw_fund = (args.get("region") or "").strip()
    fund_id = parse_id(raw_fund) if raw_fund else None
    if raw_fund:
        if role.role != Role.ADMINISTRATEUR:
            if fund_id != role.fund_id:
                ignored.append(
                    "Vous ne voyez que les chiffres de votre périmètre : filtre de caisse ignoré."
                )
            fund_id = None
        elif fund_id is None or db.get(Fund, fund_id) is None:
            ignored.append("Cette caisse n'existe pas : filtre ignoré.")
            fund_id = None
    return StatFilters(start, end, scheme, level, fund_id, tuple(ignored))


def scheme_codes(db: Session) -> list[str]:
    return list(db.exec(select(Scheme.code).order_by(Scheme.code)).all())


def funds(db: Session) -> list[Fund]:
    return list(db.exec(select(Fund).order_by(Fund.name)).all())


# --- figures ----------------------------------------------------------------------------


@dataclass
class Figure:
    """One chart and its table: a row per label, a column per series."""

    slug: str
    title: str
    kind: str  # "bar" or "line"
    label_header: str
    series: list[str]
    rows: list[tuple[str, list]] = field(default_factory=list)
    unit: str = ""

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.rows]

    def values(self, index: int) -> list:
        return [values[index] for _, values in self.rows]

    @property
    def maximum(self):
        return max((v for _, values in self.rows for v in values), default=0) or 1


@dataclass
class Statistics:
    filters: StatFilters
    scope: str  # what the figures cover, in words
    figures: list[Figure]
    total_successes: int
    total_failures: int
    total_sessions: int

    def figure(self, slug: str) -> Figure | None:
        return next((f for f in self.figures if f.slug == slug), None)


def _rate(successes: int, failures: int) -> float:
    total = successes + failures
    return round(100 * successes / total, 1) if total else 0.0


def grouped_statement(where, *columns):
    """The counts summed by `columns`, in their order."""
    return (
        select(
            *columns,
            func.sum(StatCounter.successes),
            func.sum(StatCounter.failures),
            func.sum(StatCounter.sessions),
        )
        .where(*where)
        .group_by(*columns)
        .order_by(*columns)
    )


def _grouped(db: Session, where, *columns) -> list:
    return db.exec(grouped_statement(where, *columns)).all()


def _where(role: ActiveRole, filters: StatFilters) -> list:
    where = [statistics_scope(role)]
    if filters.start_year:
        where.append(StatCounter.year >= filters.start_year)
    if filters.end_year:
        where.append(StatCounter.year <= filters.end_year)
    if filters.scheme:
        where.append(StatCounter.scheme_code == filters.scheme)
    if filters.level:
        where.append(StatCounter.level == filters.level)
    if filters.fund_id:
        where.append(
            StatCounter.department_code.in_(
                select(Department.code).where(Department.fund_id == filters.fund_id)
            )
        )
    return where


RESULTS = ["Certifiés", "Échecs"]


def _month_labels(rows) -> list[tuple[str, list]]:
    """Every month from the first to the last counted, those without a session at 0."""
    counts = {(year, month): sessions for year, month, _, _, sessions in rows}
    if not counts:
        return []
    (year, month), last = min(counts), max(counts)
    out = []
    while (year, month) <= last:
        out.append((f"{month:02d}/{year}", [int(counts.get((year, month)) or 0)]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def scope_label(role: ActiveRole) -> str:
    if role.role == Role.ADMINISTRATEUR:
        return "Toutes les caisses"
    if role.role == Role.INSTRUCTEUR:
        return f"Départements de la {role.fund_name}" if role.fund_name else "Votre caisse"
    return role.organization_name or "Votre entité"


def _by_fund(db: Session, by_department) -> list[tuple[str, list]]:
    """The departments' counts added up per caisse (REFERENCE §1: department → caisse)."""
    rows = db.exec(select(Department.code, Fund.name).join(Fund, Fund.id == Department.fund_id))
    fund_of = {code: name for code, name in rows}
    totals: dict[str, list[int]] = {}
    for department, successes, failures, _ in by_department:
        total = totals.setdefault(fund_of.get(department, NOT_GIVEN), [0, 0])
        total[0] += int(successes or 0)
        total[1] += int(failures or 0)
    return sorted(totals.items())


def statistics(db: Session, role: ActiveRole, filters: StatFilters) -> Statistics:
    """Every figure of the statistics page for the active role, from the counters only."""
    where = _where(role, filters)
    by_month = _grouped(db, [*where, StatCounter.month > 0], StatCounter.year, StatCounter.month)
    where = [*where, StatCounter.month == WHOLE_YEAR]
    by_year = _grouped(db, where, StatCounter.year)
    figures = [
        Figure(
            "annees",
            "Stagiaires certifiés et en échec par année",
            "bar",
            "Année",
            RESULTS,
            [(str(y), [int(s or 0), int(f or 0)]) for y, s, f, _ in by_year],
        ),
        Figure(
            "taux",
            "Taux de réussite par année",
            "line",
            "Année",
            ["Taux de réussite (%)"],
            [(str(y), [_rate(int(s or 0), int(f or 0))]) for y, s, f, _ in by_year],
            unit="%",
        ),
    ]
    by_department = _grouped(db, where, StatCounter.department_code)
    by_scheme = _grouped(db, where, StatCounter.scheme_code, StatCounter.level)
    by_kind = _grouped(db, where, StatCounter.is_refresher)
    if role.role == Role.ADMINISTRATEUR:
        figures.append(
            Figure(
                "caisses",
                "Stagiaires par caisse (région)",
                "bar",
                "Caisse",
                RESULTS,
                _by_fund(db, by_department),
            )
        )
    figures += [
        Figure(
            "departements",
            "Stagiaires par département",
            "bar",
            "Département",
            RESULTS,
            [(d or NOT_GIVEN, [int(s or 0), int(f or 0)]) for d, s, f, _ in by_department],
        ),
        Figure(
            "dispositifs",
            "Stagiaires par dispositif et niveau",
            "bar",
            "Dispositif et niveau",
            RESULTS,
            [
                (f"{code} niveau {level}", [int(s or 0), int(f or 0)])
                for code, level, s, f, _ in by_scheme
            ],
        ),
        Figure(
            "initial-mac",
            "Formation initiale et MAC",
            "bar",
            "Type de session",
            RESULTS,
            [
                ("MAC" if mac else "Formation initiale", [int(s or 0), int(f or 0)])
                for mac, s, f, _ in sorted(by_kind, key=lambda row: bool(row[0]))
            ],
        ),
        Figure(
            "sessions-mois",
            "Sessions par mois",
            "line",
            "Mois",
            ["Sessions"],
            _month_labels(by_month),
        ),
    ]
    successes = sum(int(s or 0) for _, s, _, _ in by_year)
    failures = sum(int(f or 0) for _, _, f, _ in by_year)
    sessions = sum(int(n or 0) for _, _, _, n in by_year)
    return Statistics(filters, scope_label(role), figures, successes, failures, sessions)


def number_fr(value) -> str:
    """12.5 → "12,5"; integers as they are (a French spreadsheet reads both)."""
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)


def figure_csv(figure: Figure) -> bytes:
    """The figure's table as a CSV a French spreadsheet opens cleanly: UTF-8 with BOM, `;`,
    months as mm/yyyy, decimals with a comma."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([figure.label_header, *figure.series])
    for label, values in figure.rows:
        writer.writerow([label, *(number_fr(v) for v in values)])
    return out.getvalue().encode("utf-8-sig")


def csv_name(figure: Figure, on: date | None = None) -> str:
    return f"statistiques-{figure.slug}-{(on or today()):%Y%m%d}.csv"
