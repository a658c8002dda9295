""" "Organismes habilités": the public list of training organisations (SPEC §4).

Only training organisations that chose to be listed and hold an accreditation valid today
(started, not ended, not suspended) appear, with the contacts they chose to publish and
nothing else. A page costs the same whatever the number of organisations: one page query
(the accreditation filters in an EXISTS on the indexed organisation/end date, the name in
the folded copy kept with it, `Organization.name_folded`), one capped count, one query for the page's accreditations; the result is kept in Redis for
PUBLIC_LIST_CACHE_SECONDS per filters and page, and `forget` drops every kept page.
"""

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import date

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import and_, exists, literal, not_
from sqlmodel import Session, select

from app.clock import today
from app.ids import parse_id
from app.models import (
    Accreditation,
    Department,
    Fund,
    Organization,
    Scheme,
    SchemeLevel,
    Suspension,
)
from app.models.organizations import OrganizationKind, OrganizationStatus
from app.pagination import Page, paginate
from app.queue import redis_connection
from app.text import fold

log = logging.getLogger(__name__)

CACHE_PREFIX = "forprev:liste-publique"
NAME_MAX = 100


@dataclass(frozen=True)
class Filters:
    scheme: str | None = None  # Scheme.code
    level: int | None = None
    department: str | None = None
    fund_id: int | None = None
    name: str = ""

    @property
    def any(self) -> bool:
        return any((self.scheme, self.level, self.department, self.fund_id, self.name))


@dataclass(frozen=True)
class Choices:
    """What the search form offers: reference data, the same for everyone."""

    schemes: list[tuple[str, str]]  # (code, name)
    levels: list[int]
    departments: list[str]
    funds: list[tuple[int, str]]


def choices(db: Session) -> Choices:
    return Choices(
        schemes=[
            (code, name)
            for code, name in db.exec(
                select(Scheme.code, Scheme.name).where(Scheme.active).order_by(Scheme.code)
            )
        ],
        levels=list(db.exec(select(SchemeLevel.level).distinct().order_by(SchemeLevel.level))),
        departments=list(db.exec(select(Department.code).order_by(Department.code))),
        funds=[(i, n) for i, n in db.exec(select(Fund.id, Fund.name).order_by(Fund.name))],
    )


def parse_filters(args, offered: Choices) -> Filters:
    """The filters from the URL; a value the form does not offer is ignored, never an error."""
    scheme = (args.get("dispositif") or "").strip()
    level = parse_id(args.get("niveau"))
    department = (args.get("departement") or "").strip().upper()
    fund_id = parse_id(args.get("region"))
    name = " ".join((args.get("nom") or "").split())[:NAME_MAX]
    return Filters(
        scheme=scheme if scheme in {code for code, _ in offered.schemes} else None,
        level=level if level in offered.levels else None,
        department=department if department in offered.departments else None,
        fund_id=fund_id if fund_id in {i for i, _ in offered.funds} else None,
        name=name,
    )


def _valid_on(day: date):
    """An accreditation started, not ended and not suspended on `day`."""
    suspended = exists().where(
        Suspension.accreditation_id == Accreditation.id,
        Suspension.start_date <= day,
        Suspension.end_date >= day,
    )
    return and_(Accreditation.start_date <= day, Accreditation.end_date >= day, not_(suspended))


def _listed(filters: Filters, day: date):
    """The page query: listed organisations matching the filters, by name."""
    accredited = (
        select(literal(1))
        .select_from(Accreditation)
        .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Accreditation.organization_id == Organization.id, _valid_on(day))
    )
    if filters.scheme:
        accredited = accredited.where(Scheme.code == filters.scheme)
    if filters.level:
        accredited = accredited.where(SchemeLevel.level == filters.level)
    query = (
        select(
            Organization.id,
            Organization.name,
            Organization.postal_code,
            Organization.city,
            Fund.name,
            Organization.public_email,
            Organization.public_phone,
            Organization.public_website,
        )
        .join(Fund, Fund.id == Organization.fund_id)
        .where(
            Organization.kind == OrganizationKind.TRAINING,
            Organization.status == OrganizationStatus.VALIDATED,
            Organization.public_listing == True,  # noqa: E712
            accredited.exists(),
        )
    )
    if filters.department:
        query = query.where(Organization.department_code == filters.department)
    if filters.fund_id:
        query = query.where(Organization.fund_id == filters.fund_id)
    for word in fold(filters.name).split():
        query = query.where(Organization.name_folded.contains(word, autoescape=True))
    return query.order_by(Organization.name, Organization.id)


def _accreditations_of(db: Session, organization_ids: list[int], day: date) -> dict[int, list]:
    """The valid accreditations of a page's organisations, in one query."""
    found: dict[int, list] = {i: [] for i in organization_ids}
    if not organization_ids:
        return found
    rows = db.exec(
        select(
            Accreditation.organization_id,
            Scheme.code,
            Scheme.name,
            SchemeLevel.level,
            Accreditation.end_date,
        )
        .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Accreditation.organization_id.in_(organization_ids), _valid_on(day))
        .order_by(Scheme.code, SchemeLevel.level, Accreditation.end_date)
    )
    for organization_id, code, name, level, end in rows:
        found[organization_id].append(
            {"code": code, "name": name, "level": level, "end": end.isoformat()}
        )
    return found


def _compute(db: Session, filters: Filters, page_number: int, day: date) -> dict:
    page = paginate(db, _listed(filters, day), page=page_number)
    accreditations = _accreditations_of(db, [row[0] for row in page.items], day)
    items = [
        {
            "id": oid,
            "name": name,
            "postal_code": postal_code,
            "city": city,
            "fund": fund,
            "email": email,
            "phone": phone,
            "website": website,
            "accreditations": accreditations[oid],
        }
        for oid, name, postal_code, city, fund, email, phone, website in page.items
    ]
    return {
        "items": items,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "capped": page.capped,
    }


def _redis():
    return redis_connection(current_app.config["REDIS_URL"])


def _generation() -> int:
    return int(_redis().get(f"{CACHE_PREFIX}:generation") or 0)


def _key(filters: Filters, page_number: int, day: date) -> str:
    what = json.dumps([asdict(filters), page_number, day.isoformat()], sort_keys=True)
    digest = hashlib.sha256(what.encode()).hexdigest()[:32]
    return f"{CACHE_PREFIX}:{_generation()}:{digest}"


def listing(db: Session, filters: Filters, page_number: int) -> Page:
    """A page of the list, from the cache when a visitor asked the same a moment ago."""
    day = today()
    lifetime = current_app.config["PUBLIC_LIST_CACHE_SECONDS"]
    key = None
    if lifetime > 0:
        try:
            key = _key(filters, page_number, day)
            kept = _redis().get(key)
            if kept is not None:
                return _page(json.loads(kept))
        except RedisError as exc:  # the list is public: show it uncached rather than not
            log.warning("liste publique : cache Redis injoignable (%s)", exc)
            key = None
    result = _compute(db, filters, page_number, day)
    if key is not None:
        try:
            _redis().set(key, json.dumps(result), ex=lifetime)
        except RedisError as exc:
            log.warning("liste publique : cache Redis injoignable (%s)", exc)
    return _page(result)


def _page(result: dict) -> Page:
    items = [
        {
            **item,
            "accreditations": [
                {**a, "end": date.fromisoformat(a["end"])} for a in item["accreditations"]
            ],
        }
        for item in result["items"]
    ]
    return Page(
        items=items,
        page=result["page"],
        per_page=result["per_page"],
        total=result["total"],
        capped=result["capped"],
    )


def forget() -> None:
    """Every kept page is dropped (a new generation): after an organisation's listing changes."""
    try:
        _redis().incr(f"{CACHE_PREFIX}:generation")
    except RedisError as exc:
        log.warning("liste publique : cache Redis injoignable (%s)", exc)
