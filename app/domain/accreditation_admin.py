"""An accreditation once granted (SPEC §5): the "Habilitations" lists, its page, and what
is recorded on it during its life — the suspensions the caisse or the administrator
records, the fixed platforms the entity adds and the caisse approves.

Every change names the accreditation's version it read (ConflictError, nothing written),
writes an audit event and tells those concerned. Whether an accreditation is valid on a
day is accreditation_status.py's; a request and its renewal, accreditation_flow.py's.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Boolean, and_, func, or_, true, union_all, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain import accreditation_flow as flow
from app.domain.access import ActiveRole, accreditation_scope
from app.domain.accreditation_status import Status, status_on, suspensions_by_accreditation
from app.domain.audit import record_event
from app.domain.errors import ConflictError, DomainError
from app.domain.notifications import close_tasks, grant_for, notify
from app.models import (
    Accreditation,
    AccreditationRequest,
    Delegation,
    Equipment,
    Fund,
    Organization,
    Person,
    Platform,
    RequestDocument,
    RoleGrant,
    Scheme,
    SchemeLevel,
    StoredFile,
    Suspension,
)
from app.models.accreditations import OPEN_REQUEST_PHASES, RequestPhase
from app.models.people import Role
from app.text import fold

CARRIERS = frozenset({Role.INSTRUCTEUR, Role.ADMINISTRATEUR})  # the caisse, the CNH
REASON_MAX = 500
SEARCH_MAX = 100
# a request decided within these days still shows under "Demandes en cours", with its outcome
RECENT_DECISION_DAYS = 30
CONFLICT = (
    "Quelqu'un a modifié cette habilitation pendant que vous la consultiez : rien n'a été "
    "enregistré. Rechargez la page pour voir la dernière version."
)
# the page's tabs (SPEC §5), in order; Technique only for dispositifs with technical
# requirements
TABS = {
    "informations": "Informations",
    "general": "Général",
    "administratif": "Administratif",
    "pedagogie": "Pédagogie",
    "technique": "Technique",
    "delegues": "Délégués",
}


# --- the lists --------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    accreditation: Accreditation
    organization_name: str
    scheme_code: str
    scheme_name: str
    level: int
    fund_name: str | None
    status: Status
    renewable: bool


_LIST = (
    select(
        Accreditation,
        Organization.name,
        Scheme.code,
        Scheme.name,
        SchemeLevel.level,
        Fund.name,
    )
    .join(Organization, Organization.id == Accreditation.organization_id)
    .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
    .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
    .outerjoin(Fund, Fund.id == Organization.fund_id)
)


def clean_search(text: str | None) -> str:
    return " ".join((text or "").split())[:SEARCH_MAX]


class InIds(ColumnElement):
    """`column IN (ids)`; on PostgreSQL `column = ANY(ARRAY(ids))`: the ids (a caisse's
    entities) are read once, first, and the column's index is probed with them, where the
    planner would rather hash-join every accreditation against them."""

    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: never "= 1" on SQLite
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column, ids):
        self.column = column
        self.ids = ids.scalar_subquery()


@compiles(InIds)
def _in_ids(element, compiler, **kw):
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.ids, **kw)}"


@compiles(InIds, "postgresql")
def _any_of_ids(element, compiler, **kw):
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} = ANY(ARRAY{ids})"


def _scope(role: ActiveRole):
    """accreditation_scope, an instructor's caisse's entities read first (InIds): the
    list without a search reads the caisse's accreditations, not every one."""
    if role.role == Role.INSTRUCTEUR and role.fund_id is not None:
        return InIds(
            Accreditation.organization_id,
            select(Organization.id).where(Organization.fund_id == role.fund_id),
        )
    return accreditation_scope(role)


def list_statement(role: ActiveRole, search: str = ""):
    """The ids of the accreditations the active role sees, the latest ending first; `search`
    keeps those whose number starts with it, whose entity code it is, or whose entity name
    holds each of its words (accents and case ignored). A page of it reads the index in
    that order (ix_accreditation_end_id) and `list_rows` then that page's rows alone, so a
    far page joins no more than the first."""
    search = clean_search(search)
    if search:  # the few found are then checked against the scope
        query = select(Accreditation.id).where(
            accreditation_scope(role), Accreditation.id.in_(_found(search))
        )
    else:
        query = select(Accreditation.id).where(_scope(role))
    return query.order_by(Accreditation.end_date.desc(), Accreditation.id.desc())


def _found(search: str):
    """The ids of the accreditations `search` finds, each way by an index: the entities
    by code or folded name (Organization.name_folded, trigrams on PostgreSQL) and then
    their accreditations, the numbers by their start. Never the name of every row folded
    again."""
    entity = aliased(Organization)
    by_name = and_(
        true(),
        *(entity.name_folded.contains(word, autoescape=True) for word in fold(search).split()),
    )
    entities = select(entity.id).where(or_(entity.code == search, by_name))
    of_entity, by_number = aliased(Accreditation), aliased(Accreditation)
    return union_all(
        select(of_entity.id).where(of_entity.organization_id.in_(entities)),
        select(by_number.id).where(by_number.number.startswith(search.upper(), autoescape=True)),
    )


def list_rows(
    db: Session, role: ActiveRole, ids: list[int], on: date | None = None
) -> list[ListRow]:
    """The rows of a page of `list_statement` (its ids, in its order) with each
    accreditation's status and, for the entity's gestionnaire, whether "Renouveler" is
    offered: the same few queries whatever the page's length, none per row."""
    if not ids:
        return []
    day = on or today()
    found = {row[0].id: row for row in db.exec(_LIST.where(Accreditation.id.in_(ids))).all()}
    items = [found[i] for i in ids if i in found]
    accreditations = [row[0] for row in items]
    suspensions = suspensions_by_accreditation(db, [a.id for a in accreditations])
    renewable = renewable_ids(db, accreditations, day) if role.role == Role.GESTIONNAIRE else set()
    return [
        ListRow(
            accreditation=acc,
            organization_name=org_name,
            scheme_code=code,
            scheme_name=scheme_name,
            level=level,
            fund_name=fund_name,
            status=status_on(acc, suspensions[acc.id], day),
            renewable=acc.id in renewable,
        )
        for acc, org_name, code, scheme_name, level, fund_name in items
    ]


def renewable_ids(
    db: Session, accreditations: list[Accreditation], on: date | None = None
) -> set[int]:
    """The accreditations `flow.renewal_problem` would let be renewed on `on`, for a whole
    list at once: in their last 12 months, no renewal running, not renewed already."""
    day = on or today()
    window = [a for a in accreditations if flow.renewal_opens_on(a) <= day <= a.end_date]
    if not window:
        return set()
    renewing = set(
        db.exec(
            select(AccreditationRequest.renewal_of_id).where(
                AccreditationRequest.renewal_of_id.in_([a.id for a in window]),
                AccreditationRequest.phase.in_(OPEN_REQUEST_PHASES),
            )
        ).all()
    )
    latest = {
        (org_id, level_id): start
        for org_id, level_id, start in db.exec(
            select(
                Accreditation.organization_id,
                Accreditation.scheme_level_id,
                func.max(Accreditation.start_date),
            )
            .where(
                Accreditation.organization_id.in_({a.organization_id for a in window}),
                Accreditation.scheme_level_id.in_({a.scheme_level_id for a in window}),
            )
            .group_by(Accreditation.organization_id, Accreditation.scheme_level_id)
        ).all()
    }
    return {
        a.id
        for a in window
        if a.id not in renewing
        and not latest.get((a.organization_id, a.scheme_level_id), a.start_date) > a.end_date
    }


def requests_statement(role: ActiveRole):
    """ "Demandes en cours": the entity's requests still running, and those decided in the
    last RECENT_DECISION_DAYS days (so the outcome is seen), the latest changed first."""
    since = utcnow() - timedelta(days=RECENT_DECISION_DAYS)
    return (
        select(AccreditationRequest, Scheme.code, SchemeLevel.level)
        .outerjoin(SchemeLevel, SchemeLevel.id == AccreditationRequest.scheme_level_id)
        .outerjoin(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(
            AccreditationRequest.organization_id == role.organization_id,
            or_(
                AccreditationRequest.phase.in_(OPEN_REQUEST_PHASES),
                and_(
                    AccreditationRequest.phase.in_(
                        (RequestPhase.FAVOURABLE, RequestPhase.UNFAVOURABLE)
                    ),
                    AccreditationRequest.decided_at >= since,
                ),
            ),
        )
        .order_by(AccreditationRequest.updated_at.desc(), AccreditationRequest.id.desc())
    )


# --- the page ---------------------------------------------------------------------------


def get_for_role(db: Session, role: ActiveRole, accreditation_id: int) -> Accreditation | None:
    """The accreditation if the active role may open it (None: a 404 for everyone else)."""
    return db.exec(
        select(Accreditation).where(Accreditation.id == accreditation_id, accreditation_scope(role))
    ).first()


@dataclass
class Document:
    id: int
    kind_label: str
    label: str | None
    file: StoredFile
    uploaded_at: object


@dataclass
class Screen:
    """What the accreditation's page shows on a tab, and what the active role may do."""

    accreditation: Accreditation
    organization: Organization
    scheme: Scheme
    level: SchemeLevel
    fund_name: str | None
    status: Status
    tab: str
    tabs: list[tuple[str, str]]
    technical: bool
    renewable: bool
    letter_available: bool
    may_suspend: bool
    may_add_platform: bool
    may_approve: bool
    gestionnaires: list[Person] = field(default_factory=list)
    suspensions: list[Suspension] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    platforms: list[Platform] = field(default_factory=list)
    equipment: list[Equipment] = field(default_factory=list)
    delegates: list[Person] = field(default_factory=list)


def tabs_of(db: Session, accreditation: Accreditation) -> list[str]:
    return [key for key in TABS if key != "technique" or is_technical(db, accreditation)]


def is_technical(db: Session, accreditation: Accreditation) -> bool:
    level = db.get(SchemeLevel, accreditation.scheme_level_id)
    return bool(db.get(Scheme, level.scheme_id).technical_requirements)


def screen_of(db: Session, role: ActiveRole, accreditation: Accreditation, tab: str) -> Screen:
    """The page's state on `tab`: only what that tab shows is read."""
    day = today()
    organization = db.get(Organization, accreditation.organization_id)
    level = db.get(SchemeLevel, accreditation.scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id)
    fund = db.get(Fund, organization.fund_id) if organization.fund_id else None
    suspensions = sorted(
        suspensions_by_accreditation(db, [accreditation.id])[accreditation.id],
        key=lambda s: s.start_date,
    )
    entity = role.role == Role.GESTIONNAIRE
    screen = Screen(
        accreditation=accreditation,
        organization=organization,
        scheme=scheme,
        level=level,
        fund_name=fund.name if fund else None,
        status=status_on(accreditation, suspensions, day),
        tab=tab,
        tabs=[(key, TABS[key]) for key in tabs_of(db, accreditation)],
        technical=scheme.technical_requirements,
        renewable=entity and flow.renewal_problem(db, accreditation, day) is None,
        letter_available=decision_letter(db, accreditation) is not None,
        may_suspend=role.role in CARRIERS,
        may_add_platform=entity and scheme.technical_requirements and not _ended(accreditation),
        may_approve=role.role in CARRIERS,
        suspensions=suspensions,
    )
    if tab == "informations":
        screen.gestionnaires = flow.gestionnaires_of(db, organization.id)
    if tab in ("pedagogie", "technique"):
        wanted = "technique" if tab == "technique" else "pedagogique"
        screen.documents = [d for d, on_tab in _documents(db, accreditation) if on_tab == wanted]
    if tab == "technique":
        screen.platforms = platforms_of(db, accreditation.id)
        screen.equipment = list(
            db.exec(
                select(Equipment)
                .where(Equipment.accreditation_id == accreditation.id)
                .order_by(Equipment.id)
            ).all()
        )
    if tab == "delegues":
        screen.delegates = delegates_of(db, accreditation)
    return screen


def _ended(accreditation: Accreditation) -> bool:
    return today() > accreditation.end_date


def _documents(db: Session, accreditation: Accreditation) -> list[tuple[Document, str]]:
    """The files of the request that gave the accreditation, each with its tab."""
    if accreditation.request_id is None:
        return []
    requirements = {r.kind: r for r in flow.requirements_of(db, accreditation.scheme_level_id)}
    found = []
    for document, stored in flow.documents_of(db, accreditation.request_id):
        requirement = requirements.get(document.kind)
        found.append(
            (
                Document(
                    id=document.id,
                    kind_label=requirement.label if requirement else document.kind,
                    label=document.label,
                    file=stored,
                    uploaded_at=document.uploaded_at,
                ),
                requirement.tab if requirement else "pedagogique",
            )
        )
    return found


def platforms_of(db: Session, accreditation_id: int) -> list[Platform]:
    """Every fixed platform of the accreditation, approved or waiting for the caisse."""
    return list(
        db.exec(
            select(Platform)
            .where(Platform.accreditation_id == accreditation_id)
            .order_by(Platform.name, Platform.id)
        ).all()
    )


def delegates_of(db: Session, accreditation: Accreditation) -> list[Person]:
    """The active délégataires of the entity this accreditation is delegated to."""
    return list(
        db.exec(
            select(Person)
            .join(Delegation, Delegation.person_id == Person.id)
            .join(
                RoleGrant,
                and_(
                    RoleGrant.person_id == Person.id,
                    RoleGrant.role == Role.DELEGATAIRE,
                    RoleGrant.organization_id == accreditation.organization_id,
                    RoleGrant.active.is_(True),
                ),
            )
            .where(
                Delegation.accreditation_id == accreditation.id,
                Delegation.revoked_at.is_(None),
                Person.active.is_(True),
            )
            .order_by(Person.last_name, Person.first_name, Person.id)
        ).all()
    )


def decision_letter(db: Session, accreditation: Accreditation) -> StoredFile | None:
    """The CNH's decision letter, downloadable while the accreditation has not ended."""
    if accreditation.decision_letter_file_id is None or _ended(accreditation):
        return None
    return db.get(StoredFile, accreditation.decision_letter_file_id)


def document_file(db: Session, accreditation: Accreditation, document_id: int) -> StoredFile | None:
    """A file of the request that gave the accreditation, or None."""
    document = db.get(RequestDocument, document_id)
    if (
        document is None
        or accreditation.request_id is None
        or document.request_id != accreditation.request_id
    ):
        return None
    return db.get(StoredFile, document.file_id)


# --- writing ----------------------------------------------------------------------------


def _bump(db: Session, accreditation: Accreditation, version: int | None) -> None:
    """Take the accreditation's next version if it is still at `version` (None: the one
    just read, for scripts)."""
    expected = accreditation.version if version is None else version
    done = db.exec(
        update(Accreditation)
        .where(Accreditation.id == accreditation.id, Accreditation.version == expected)
        .values(version=Accreditation.version + 1)
    ).rowcount
    if not done:
        db.rollback()
        raise ConflictError(CONFLICT)
    db.refresh(accreditation)


def _audit(db, role, accreditation, action, comment=None, data=None) -> None:
    record_event(
        db,
        actor_id=role.person_id if role else None,
        action=f"accreditation.{action}",
        object_type="accreditation",
        object_id=accreditation.id,
        comment=comment,
        data=data,
    )


def _require_carrier(db: Session, role: ActiveRole, accreditation: Accreditation) -> None:
    """The instructor of the entity's caisse, or an administrator."""
    if role.role == Role.ADMINISTRATEUR:
        return
    organization = db.get(Organization, accreditation.organization_id)
    if role.role != Role.INSTRUCTEUR or organization.fund_id != role.fund_id:
        raise DomainError(
            "Seule la caisse de l'entité ou un administrateur peut faire cette opération."
        )


def _tell_gestionnaires(db: Session, accreditation: Accreditation, title: str, tab: str) -> None:
    for person in flow.gestionnaires_of(db, accreditation.organization_id):
        notify(
            db,
            person_id=person.id,
            role_grant_id=grant_for(
                db, person.id, [Role.GESTIONNAIRE], accreditation.organization_id
            ),
            kind="accreditation",
            title=title,
            link=f"/habilitations/{accreditation.id}/{tab}",
            object_type="accreditation",
            object_id=accreditation.id,
        )


def _tell_caisse(db: Session, accreditation: Accreditation, platform: Platform, title: str):
    organization = db.get(Organization, accreditation.organization_id)
    rows = db.exec(
        select(RoleGrant.person_id, RoleGrant.id)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(
            RoleGrant.role == Role.INSTRUCTEUR,
            RoleGrant.fund_id == organization.fund_id,
            RoleGrant.active.is_(True),
            Person.active.is_(True),
        )
    ).all()
    for person_id, grant_id in rows:
        notify(
            db,
            person_id=person_id,
            role_grant_id=grant_id,
            kind="platform",
            title=title,
            link=f"/habilitations/{accreditation.id}/technique",
            object_type="platform",
            object_id=platform.id,
        )


# suspensions


def check_suspension(
    db: Session,
    accreditation: Accreditation,
    start: date | None,
    end: date | None,
    reason: str | None,
) -> dict[str, str]:
    """{field: French message} for a suspension period; empty when it may be recorded."""
    errors: dict[str, str] = {}
    if start is None:
        errors["start_date"] = "Indiquez la date de début de la suspension."
    elif start < accreditation.start_date:
        errors["start_date"] = (
            "La suspension ne peut pas commencer avant le début de l'habilitation, le "
            f"{accreditation.start_date:%d/%m/%Y}."
        )
    if end is None:
        errors["end_date"] = "Indiquez la date de fin de la suspension."
    elif start is not None and end < start:
        errors["end_date"] = "La date de fin ne peut pas précéder la date de début."
    elif end > accreditation.end_date:
        errors["end_date"] = (
            "La suspension ne peut pas finir après la fin de l'habilitation, le "
            f"{accreditation.end_date:%d/%m/%Y}."
        )
    if start is not None and end is not None and not errors:
        for other in db.exec(
            select(Suspension)
            .where(
                Suspension.accreditation_id == accreditation.id,
                Suspension.start_date <= end,
                Suspension.end_date >= start,
            )
            .order_by(Suspension.start_date)
        ).all():
            errors["start_date"] = (
                f"Cette période chevauche la suspension du {other.start_date:%d/%m/%Y} au "
                f"{other.end_date:%d/%m/%Y} : choisissez des dates en dehors."
            )
            break
    text = (reason or "").strip()
    if not text:
        errors["reason"] = "Indiquez le motif de la suspension."
    elif len(text) > REASON_MAX:
        errors["reason"] = f"Le motif ne doit pas dépasser {REASON_MAX} caractères."
    return errors


def add_suspension(
    db: Session,
    role: ActiveRole,
    accreditation: Accreditation,
    start: date | None,
    end: date | None,
    reason: str | None,
    version: int | None = None,
) -> dict[str, str]:
    """Record a period during which the accreditation is not valid; {field: message} when
    refused (nothing written). Every gestionnaire of the entity is told."""
    _require_carrier(db, role, accreditation)
    errors = check_suspension(db, accreditation, start, end, reason)
    if errors:
        return errors
    _bump(db, accreditation, version)
    suspension = Suspension(
        accreditation_id=accreditation.id,
        start_date=start,
        end_date=end,
        reason=reason.strip(),
        created_by_id=role.person_id,
    )
    db.add(suspension)
    db.flush()
    _audit(
        db,
        role,
        accreditation,
        "suspended",
        comment=suspension.reason,
        data={
            "suspension_id": suspension.id,
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
    )
    _tell_gestionnaires(
        db,
        accreditation,
        f"Habilitation {accreditation.number} suspendue du {start:%d/%m/%Y} au {end:%d/%m/%Y}",
        "general",
    )
    return {}


# platforms added during the accreditation


def add_platform(
    db: Session,
    role: ActiveRole,
    accreditation: Accreditation,
    values: flow.PlatformInput,
    version: int | None = None,
) -> dict[str, str]:
    """A fixed platform the entity adds during the accreditation; it waits for the caisse's
    approval before sessions may use it. {field: message} when refused (nothing written)."""
    if role.role != Role.GESTIONNAIRE or role.organization_id != accreditation.organization_id:
        raise DomainError("Seuls les gestionnaires de l'entité ajoutent des plateformes.")
    if not is_technical(db, accreditation):
        raise DomainError("Ce dispositif ne demande pas de plateforme pédagogique.")
    if _ended(accreditation):
        raise DomainError(
            f"Cette habilitation a pris fin le {accreditation.end_date:%d/%m/%Y} : on ne peut "
            "plus y ajouter de plateforme."
        )
    errors = flow.check_platform(values, db)
    if errors:
        return errors
    _bump(db, accreditation, version)
    platform = Platform(
        accreditation_id=accreditation.id,
        name=values.name.strip(),
        address=values.address.strip(),
        postal_code=values.postal_code.strip(),
        city=values.city.strip(),
        cnh_approved_on=None,
    )
    db.add(platform)
    db.flush()
    _audit(
        db,
        role,
        accreditation,
        "platform_added",
        data={"platform_id": platform.id, "name": platform.name},
    )
    _tell_caisse(
        db,
        accreditation,
        platform,
        f"Plateforme « {platform.name} » à approuver (habilitation {accreditation.number})",
    )
    return {}


def check_approval(approved_on: date | None) -> str | None:
    if approved_on is None:
        return "Indiquez la date d'approbation de la CNH."
    if approved_on > today():
        return "La date d'approbation ne peut pas être dans le futur."
    return None


def approve_platform(
    db: Session,
    role: ActiveRole,
    accreditation: Accreditation,
    platform_id: int,
    approved_on: date | None,
    version: int | None = None,
) -> str | None:
    """The CNH's approval date of a platform added during the accreditation, recorded by
    the caisse or the administrator; from that day sessions may take place on it. The
    message when refused (nothing written)."""
    _require_carrier(db, role, accreditation)
    platform = db.get(Platform, platform_id)
    if platform is None or platform.accreditation_id != accreditation.id:
        raise DomainError("Cette plateforme n'existe pas sur cette habilitation.")
    if platform.cnh_approved_on is not None:
        raise DomainError(
            f"La plateforme « {platform.name} » est déjà approuvée (le "
            f"{platform.cnh_approved_on:%d/%m/%Y})."
        )
    problem = check_approval(approved_on)
    if problem:
        return problem
    _bump(db, accreditation, version)
    platform.cnh_approved_on = approved_on
    db.add(platform)
    db.flush()
    _audit(
        db,
        role,
        accreditation,
        "platform_approved",
        data={
            "platform_id": platform.id,
            "name": platform.name,
            "approved_on": approved_on.isoformat(),
        },
    )
    close_tasks(db, "platform", platform.id)
    _tell_gestionnaires(
        db,
        accreditation,
        f"Plateforme « {platform.name} » approuvée le {approved_on:%d/%m/%Y} "
        f"(habilitation {accreditation.number})",
        "technique",
    )
    return None
