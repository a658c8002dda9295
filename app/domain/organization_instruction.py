"""The caisse instructs what entities ask of it (SPEC §4), in one place: its queue
("Demandes à instruire"), who may decide what, and each decision audited and told.

An entity request: en validation → (Valider) → validée, with its 5-digit code and its
requester as first gestionnaire; or → (Renvoyer au demandeur, with a comment) → renvoyée.
A change of an entity's administrative data: en attente → (Accepter) → acceptée, applied
to the entity (an address in another department moves the entity to that caisse, which is
the one instructing the change); or → (Refuser, with a comment) → refusée.

Only an instructor of the caisse instructing the item decides; an administrator sees every
caisse's items, read-only. Every decision names the version it read: the UPDATE applies
only if nobody decided in between, else a ConflictError says so and nothing is written.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import String, asc, case, cast, desc, func, literal, null, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.clock import PARIS, utcnow
from app.domain.access import ActiveRole, instruction_scope
from app.domain.audit import record_event
from app.domain.caisse_routing import fund_for_postal_code
from app.domain.errors import ConflictError, DomainError
from app.domain.notifications import close_tasks, notify
from app.models import (
    AccreditationRequest,
    AuditEvent,
    Department,
    Fund,
    Organization,
    OrganizationChange,
    Person,
    RoleGrant,
    Scheme,
    SchemeLevel,
    StoredFile,
)
from app.models.accreditations import REQUEST_PHASE_LABELS, RequestPhase
from app.models.organizations import (
    ORGANIZATION_CHANGE_STATUS_LABELS,
    ORGANIZATION_STATUS_LABELS,
    OrganizationChangeStatus,
    OrganizationStatus,
)
from app.models.people import Role

ALREADY_DECIDED = (
    "Cette demande a déjà été décidée pendant que vous la consultiez (par vous dans un autre "
    "onglet ou par un autre instructeur) : votre décision n'a pas été enregistrée. "
    "Voici son état actuel."
)
CHANGE_ALREADY_DECIDED = (
    "Cette modification a déjà été décidée ou retirée pendant que vous la consultiez : "
    "votre décision n'a pas été enregistrée. Voici son état actuel."
)
COMMENT_REQUIRED = "Expliquez dans le commentaire ce qu'il faut corriger."
COMMENT_MAX = 2000
# a code taken by a validation committed in between: try the next free one
CODE_ATTEMPTS = 5


class Kind(StrEnum):
    ENTITY = "entite"
    CHANGE = "modification"
    ACCREDITATION = "habilitation"


KIND_LABELS = {
    Kind.ENTITY: "Nouvelle entité",
    Kind.CHANGE: "Modification",
    Kind.ACCREDITATION: "Habilitation",
}


class QueueState(StrEnum):
    TO_INSTRUCT = "a_instruire"
    RETURNED = "renvoyee"
    DECIDED = "decidee"
    ALL = "toutes"


QUEUE_STATE_LABELS = {
    QueueState.TO_INSTRUCT: "À instruire",
    QueueState.RETURNED: "Renvoyées au demandeur",
    QueueState.DECIDED: "Décidées",
    QueueState.ALL: "Toutes",
}

OPEN_PHASES = [
    RequestPhase.FILE_COMPLETE,
    RequestPhase.PHASE_1,
    RequestPhase.PHASE_2,
    RequestPhase.CNH,
]
# the statuses each kind of item has in each state of the queue
_STATUSES = {
    Kind.ENTITY: {
        QueueState.TO_INSTRUCT: [OrganizationStatus.SUBMITTED],
        QueueState.RETURNED: [OrganizationStatus.RETURNED],
        QueueState.DECIDED: [OrganizationStatus.VALIDATED, OrganizationStatus.REFUSED],
    },
    Kind.CHANGE: {
        QueueState.TO_INSTRUCT: [OrganizationChangeStatus.PENDING],
        QueueState.RETURNED: [],
        QueueState.DECIDED: [OrganizationChangeStatus.ACCEPTED, OrganizationChangeStatus.REFUSED],
        QueueState.ALL: [OrganizationChangeStatus.WITHDRAWN],
    },
    Kind.ACCREDITATION: {
        QueueState.TO_INSTRUCT: OPEN_PHASES,
        # "incomplet": back with the entity until it resubmits
        QueueState.RETURNED: [RequestPhase.RETURNED],
        QueueState.DECIDED: [RequestPhase.FAVOURABLE, RequestPhase.UNFAVOURABLE],
    },
}
# the phases an accreditation request is listed by (the queue's "Phase" filter), and the
# state of the queue each one is in
QUEUE_PHASES = {
    phase: state for state, phases in _STATUSES[Kind.ACCREDITATION].items() for phase in phases
}
QUEUE_PHASE_LABELS = {phase: REQUEST_PHASE_LABELS[phase] for phase in QUEUE_PHASES}
# an entity request the caisse has received (a draft or an abandoned one is not its business)
VISIBLE_REQUEST_STATUSES = [
    s
    for state in (QueueState.TO_INSTRUCT, QueueState.RETURNED, QueueState.DECIDED)
    for s in _STATUSES[Kind.ENTITY][state]
]
STATUS_LABELS = {
    Kind.ENTITY: ORGANIZATION_STATUS_LABELS,
    Kind.CHANGE: ORGANIZATION_CHANGE_STATUS_LABELS,
    Kind.ACCREDITATION: REQUEST_PHASE_LABELS,
}
SORTS = ("date", "raison_sociale", "departement")
# what a change may set on the entity once accepted (SPEC §4: instructed fields)
CHANGEABLE_FIELDS = (
    "kind",
    "name",
    "regime",
    "siret",
    "activity_number",
    "urssaf_issued_on",
    "address",
    "postal_code",
    "city",
)


def statuses(kind: Kind, state: QueueState) -> list[str]:
    by_state = _STATUSES[kind]
    if state == QueueState.ALL:
        return [s for values in by_state.values() for s in values]
    return list(by_state[state])


# --- the queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    kind: Kind | None = None
    state: QueueState = QueueState.TO_INSTRUCT
    department: str | None = None
    start: date | None = None
    end: date | None = None
    sort: str = "date"
    direction: str = "asc"
    # one phase of the accreditation requests (then only they are listed)
    phase: RequestPhase | None = None

    @property
    def phase_labels(self) -> dict:
        return QUEUE_PHASE_LABELS

    @classmethod
    def parse(cls, args) -> "QueueFilters":
        """The filters of the list's URL; what is no filter is left out (a list stays a list)."""

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name) or "")
            except ValueError:
                return None

        kind = args.get("type")
        state = args.get("etat")
        department = (args.get("departement") or "").strip().upper()
        sort = args.get("tri")
        phase = args.get("phase")
        phase = RequestPhase(phase) if phase in QUEUE_PHASES else None
        state = QueueState(state) if state in QueueState.__members__.values() else None
        if phase is not None:  # a phase is of accreditation requests, in its own state
            kind = Kind.ACCREDITATION
            if state != QueueState.ALL:
                state = QUEUE_PHASES[phase]
        return cls(
            kind=Kind(kind) if kind in Kind.__members__.values() else None,
            state=state or QueueState.TO_INSTRUCT,
            phase=phase,
            department=department if 0 < len(department) <= 3 else None,
            start=day("du"),
            end=day("au"),
            sort=sort if sort in SORTS else "date",
            direction="desc" if args.get("ordre") == "desc" else "asc",
        )

    def args(self, **changed) -> dict:
        """The URL arguments of these filters (for links: sort, pages), with `changed`."""
        values = {
            "type": self.kind.value if self.kind else None,
            "etat": self.state.value,
            "departement": self.department,
            "du": self.start.isoformat() if self.start else None,
            "au": self.end.isoformat() if self.end else None,
            "tri": self.sort,
            "ordre": self.direction,
            "phase": self.phase.value if self.phase else None,
        }
        values.update(changed)
        return {k: v for k, v in values.items() if v}


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=PARIS)


def _when(column, filters: QueueFilters) -> list:
    """The date range (Paris days, both included) on the column the queue sorts by."""
    where = []
    if filters.start:
        where.append(column >= _paris_midnight(filters.start))
    if filters.end:
        where.append(column < _paris_midnight(filters.end + timedelta(days=1)))
    return where


def _entities(role: ActiveRole, filters: QueueFilters, wanted: list[str]):
    return select(
        literal(Kind.ENTITY.value).label("kind"),
        Organization.id.label("item_id"),
        Organization.name.label("name"),
        cast(null(), String).label("detail"),
        Organization.department_code.label("department"),
        Organization.fund_id.label("fund_id"),
        Organization.status.label("status"),
        Organization.submitted_at.label("at"),
    ).where(
        instruction_scope(role, Organization.fund_id),
        Organization.status.in_(wanted),
        *_when(Organization.submitted_at, filters),
        *([Organization.department_code == filters.department] if filters.department else []),
    )


def _change_department():
    """The department a change concerns: the new one when it moves the entity (its postal
    code read as caisse_routing does: 97x overseas, 20 Corsica, else two digits)."""
    postal_code = OrganizationChange.changes["postal_code"].as_string()
    return func.coalesce(
        OrganizationChange.changes["department_code"].as_string(),
        case(
            (postal_code.like("97%"), func.substr(postal_code, 1, 3)),
            (postal_code.like("20%") & (postal_code < "20200"), literal("2A")),
            (postal_code.like("20%"), literal("2B")),
            else_=func.substr(postal_code, 1, 2),
        ),
        Organization.department_code,
    )


def _changes(role: ActiveRole, filters: QueueFilters, wanted: list[str]):
    department = _change_department()
    return (
        select(
            literal(Kind.CHANGE.value).label("kind"),
            OrganizationChange.id.label("item_id"),
            Organization.name.label("name"),
            cast(null(), String).label("detail"),
            department.label("department"),
            OrganizationChange.fund_id.label("fund_id"),
            OrganizationChange.status.label("status"),
            OrganizationChange.created_at.label("at"),
        )
        .join(Organization, Organization.id == OrganizationChange.organization_id)
        .where(
            instruction_scope(role, OrganizationChange.fund_id),
            OrganizationChange.status.in_(wanted),
            *_when(OrganizationChange.created_at, filters),
            *([department == filters.department] if filters.department else []),
        )
    )


def _accreditation_requests(role: ActiveRole, filters: QueueFilters, wanted: list[str]):
    return (
        select(
            literal(Kind.ACCREDITATION.value).label("kind"),
            AccreditationRequest.id.label("item_id"),
            Organization.name.label("name"),
            (Scheme.code + " / " + cast(SchemeLevel.level, String)).label("detail"),
            Organization.department_code.label("department"),
            AccreditationRequest.fund_id.label("fund_id"),
            AccreditationRequest.phase.label("status"),
            AccreditationRequest.submitted_at.label("at"),
        )
        .join(Organization, Organization.id == AccreditationRequest.organization_id)
        .join(SchemeLevel, SchemeLevel.id == AccreditationRequest.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(
            instruction_scope(role, AccreditationRequest.fund_id),
            AccreditationRequest.phase.in_(wanted),
            *_when(AccreditationRequest.submitted_at, filters),
            *([Organization.department_code == filters.department] if filters.department else []),
        )
    )


_PARTS = {
    Kind.ENTITY: _entities,
    Kind.CHANGE: _changes,
    Kind.ACCREDITATION: _accreditation_requests,
}


def _wanted(kind: Kind, filters: QueueFilters) -> list[str]:
    if kind == Kind.ACCREDITATION and filters.phase is not None:
        return [filters.phase]
    return statuses(kind, filters.state)


def queue_url(kind: Kind, state: QueueState = QueueState.TO_INSTRUCT, phase=None) -> str:
    """The address of a part of the queue (the dashboard's figures link to them)."""
    url = f"/instruction/demandes?etat={state.value}&type={kind.value}"
    return f"{url}&phase={RequestPhase(phase).value}" if phase else url


_SORT_COLUMNS = {"date": "at", "raison_sociale": "name", "departement": "department"}


def queue_statement(role: ActiveRole, filters: QueueFilters, keep: int | None = None):
    """The caisse's items as one list (kind, item_id, name, detail, department, fund_id,
    status, at, fund_name), sorted by the chosen column, then kind, then id; `paginate`
    runs it. With `keep` (the rows up to the end of the page asked for), each kind is
    first cut to its own first `keep` rows in that order — read from its (caisse, date)
    index when sorted by date — so that only those are merged and sorted: the page is the
    same, since no row past a kind's first `keep` can be among the whole list's first
    `keep`. Without it, the whole list (what `paginate` counts)."""
    order = desc if filters.direction == "desc" else asc
    name = _SORT_COLUMNS[filters.sort]
    parts = [
        build(role, filters, wanted)
        for kind, build in _PARTS.items()
        if filters.kind in (None, kind) and (wanted := _wanted(kind, filters))
    ]
    if not parts:  # a kind never in that state (a change is never "renvoyée")
        parts = [_entities(role, filters, [])]
    if keep is not None:
        # the kind is the same on every row of a part: its order is (column, id)
        parts = [
            select(
                part.order_by(order(part.selected_columns[name]), part.selected_columns.item_id)
                .limit(keep)
                .subquery()
            )
            for part in parts
        ]
    items = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("item")
    return (
        select(items, Fund.name.label("fund_name"))
        .outerjoin(Fund, Fund.id == items.c.fund_id)
        .order_by(order(items.c[name]), items.c.kind, items.c.item_id)
    )


def queue_count_statement(role: ActiveRole, filters: QueueFilters):
    """The rows of `queue_statement` for `paginate` to count, each kind without the joins
    that only fetch its columns: every change and request has its entity, and a request
    has its dispositif-level when it is set (what the list's join keeps). A department
    filter needs the entity: then the list's own statement."""
    if filters.department:
        return queue_statement(role, filters)
    columns = {
        Kind.ENTITY: (
            Organization,
            Organization.fund_id,
            Organization.status,
            Organization.submitted_at,
        ),
        Kind.CHANGE: (
            OrganizationChange,
            OrganizationChange.fund_id,
            OrganizationChange.status,
            OrganizationChange.created_at,
        ),
        Kind.ACCREDITATION: (
            AccreditationRequest,
            AccreditationRequest.fund_id,
            AccreditationRequest.phase,
            AccreditationRequest.submitted_at,
        ),
    }
    parts = []
    for kind, (table, fund, status, at) in columns.items():
        wanted = _wanted(kind, filters) if filters.kind in (None, kind) else []
        if wanted:
            where = [instruction_scope(role, fund), status.in_(wanted), *_when(at, filters)]
            if kind == Kind.ACCREDITATION:
                where.append(AccreditationRequest.scheme_level_id.is_not(None))
            parts.append(select(table.id).where(*where))
    if not parts:
        return queue_statement(role, filters)
    items = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("item")
    return select(items)


def status_label(kind: str, status: str) -> str:
    return STATUS_LABELS[Kind(kind)].get(status, status)


def departments(db: Session, role: ActiveRole) -> list[str]:
    """The departments of the role's caisse (every department for an administrator)."""
    return list(
        db.exec(
            select(Department.code)
            .where(instruction_scope(role, Department.fund_id))
            .order_by(Department.code)
        ).all()
    )


def counts(db: Session, role: ActiveRole) -> dict[Kind, int]:
    """Items waiting for the caisse, per kind, in one statement (each count indexed)."""
    parts = [
        select(func.count()).select_from(
            build(role, QueueFilters(), statuses(kind, QueueState.TO_INSTRUCT)).subquery()
        )
        for kind, build in _PARTS.items()
    ]
    row = db.exec(select(*(p.scalar_subquery() for p in parts))).one()
    return dict(zip(_PARTS, row, strict=True))


# --- an entity request -----------------------------------------------------------------


@dataclass
class EntityRequestScreen:
    """What the instructor sees of an entity request and may do with it."""

    organization: Organization
    fund_name: str | None
    requester: Person | None
    urssaf: StoredFile | None
    history: list
    can_decide: bool


def get_request_for(db: Session, role: ActiveRole, organization_id: int) -> Organization | None:
    """The entity request if the role's caisse received it (any caisse: administrator)."""
    return db.exec(
        select(Organization).where(
            Organization.id == organization_id,
            instruction_scope(role, Organization.fund_id),
            Organization.status.in_(VISIBLE_REQUEST_STATUSES),
        )
    ).first()


def may_decide(role: ActiveRole, fund_id: int | None) -> bool:
    """Only an instructor of the caisse instructing it decides (an administrator looks)."""
    return role.role == Role.INSTRUCTEUR and fund_id is not None and fund_id == role.fund_id


def history(db: Session, object_type: str, object_id: int) -> list:
    return list(
        db.exec(
            select(AuditEvent, Person)
            .outerjoin(Person, Person.id == AuditEvent.actor_id)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        ).all()
    )


def request_screen(
    db: Session, role: ActiveRole, organization: Organization
) -> EntityRequestScreen:
    return EntityRequestScreen(
        organization=organization,
        fund_name=db.get(Fund, organization.fund_id).name if organization.fund_id else None,
        requester=db.get(Person, organization.created_by_id)
        if organization.created_by_id
        else None,
        urssaf=db.get(StoredFile, organization.urssaf_file_id)
        if organization.urssaf_file_id
        else None,
        history=history(db, "organization", organization.id),
        can_decide=may_decide(role, organization.fund_id)
        and organization.status == OrganizationStatus.SUBMITTED,
    )


def _require_instructor(role: ActiveRole, fund_id: int | None) -> None:
    if not may_decide(role, fund_id):
        raise DomainError(
            "Seuls les instructeurs de la caisse instructrice décident de cette demande."
        )


def _checked_comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise DomainError(COMMENT_REQUIRED, field="comment")
    if len(comment) > COMMENT_MAX:
        raise DomainError(
            f"Le commentaire ne doit pas dépasser {COMMENT_MAX} caractères.", field="comment"
        )
    return comment


def _next_code(db: Session) -> str:
    """The next free 5-digit entity code (codes are 5 digits: their order is their text's)."""
    highest = db.exec(select(func.max(Organization.code))).one()
    number = int(highest) + 1 if highest and highest.isdigit() else 1
    if number > 99999:
        raise DomainError("Plus aucun code d'entité n'est libre : prévenez l'assistance.")
    return f"{number:05d}"


def validate_request(
    db: Session, role: ActiveRole, organization: Organization, version: int
) -> None:
    """Valider: the entity gets its code, its requester becomes its first gestionnaire."""
    _require_instructor(role, organization.fund_id)
    organization_id = organization.id
    for _attempt in range(CODE_ATTEMPTS):
        now = utcnow()
        code = _next_code(db)
        try:
            # the first write of the unit of work: on a code taken in between, rolling
            # back loses nothing and the next attempt reads the codes committed since
            done = db.exec(
                update(Organization)
                .where(
                    Organization.id == organization_id,
                    Organization.version == version,
                    Organization.status == OrganizationStatus.SUBMITTED,
                )
                .values(
                    status=OrganizationStatus.VALIDATED,
                    code=code,
                    validated_at=now,
                    updated_at=now,
                    version=Organization.version + 1,
                )
            ).rowcount
        except IntegrityError:
            db.rollback()
            continue
        break
    else:
        raise DomainError(
            "Le code de l'entité n'a pas pu être attribué : d'autres validations avaient lieu "
            "au même moment. Réessayez."
        )
    if not done:
        db.rollback()
        raise ConflictError(ALREADY_DECIDED)
    db.refresh(organization)
    grant = _gestionnaire_grant(db, organization.created_by_id, organization.id)
    record_event(
        db,
        actor_id=role.person_id,
        action="organization.validated",
        object_type="organization",
        object_id=organization.id,
        from_state=OrganizationStatus.SUBMITTED,
        to_state=OrganizationStatus.VALIDATED,
        data={"code": code},
    )
    close_tasks(db, "organization", organization.id)
    if grant is not None:
        notify(
            db,
            person_id=organization.created_by_id,
            role_grant_id=None,  # seen whatever the role: it is how they learn of the new one
            kind="organization.validated",
            title=(
                f"Votre demande d'entité {organization.name} est validée (code "
                f"{organization.code}) : vous en êtes gestionnaire, choisissez ce rôle en "
                "haut à droite"
            ),
            link=f"/demandes-entite/{organization.id}",
            object_type="organization_request",
            object_id=organization.id,
        )


def _gestionnaire_grant(
    db: Session, person_id: int | None, organization_id: int
) -> RoleGrant | None:
    """The requester's Gestionnaire role on the entity (it shows in their role switcher at
    their next page: the roles are read on every request)."""
    if person_id is None:
        return None
    grant = db.exec(
        select(RoleGrant).where(
            RoleGrant.person_id == person_id,
            RoleGrant.role == Role.GESTIONNAIRE,
            RoleGrant.organization_id == organization_id,
        )
    ).first()
    if grant is None:
        grant = RoleGrant(
            person_id=person_id, role=Role.GESTIONNAIRE, organization_id=organization_id
        )
    grant.active = True
    db.add(grant)
    db.flush()
    return grant


def return_request(
    db: Session, role: ActiveRole, organization: Organization, version: int, comment: str | None
) -> None:
    """Renvoyer au demandeur: the comment says what to fix; the requester sees it."""
    _require_instructor(role, organization.fund_id)
    comment = _checked_comment(comment)
    now = utcnow()
    done = db.exec(
        update(Organization)
        .where(
            Organization.id == organization.id,
            Organization.version == version,
            Organization.status == OrganizationStatus.SUBMITTED,
        )
        .values(
            status=OrganizationStatus.RETURNED,
            return_comment=comment,
            returned_at=now,
            updated_at=now,
            version=Organization.version + 1,
        )
    ).rowcount
    if not done:
        db.rollback()
        raise ConflictError(ALREADY_DECIDED)
    db.refresh(organization)
    record_event(
        db,
        actor_id=role.person_id,
        action="organization.returned",
        object_type="organization",
        object_id=organization.id,
        from_state=OrganizationStatus.SUBMITTED,
        to_state=OrganizationStatus.RETURNED,
        comment=comment,
    )
    close_tasks(db, "organization", organization.id)
    if organization.created_by_id:
        notify(
            db,
            person_id=organization.created_by_id,
            role_grant_id=None,
            kind="organization.returned",
            title=f"Votre demande d'entité {organization.name} vous est renvoyée : {comment}"[:300],
            link=f"/demandes-entite/{organization.id}",
            object_type="organization_request",
            object_id=organization.id,
        )


# --- a change of an entity's administrative data -------------------------------------


@dataclass
class ChangeScreen:
    change: OrganizationChange
    organization: Organization
    fund_name: str | None  # the caisse instructing the change
    current_fund_name: str | None  # the entity's caisse today
    requester: Person | None
    urssaf: StoredFile | None
    rows: list  # (label, value today, value asked)
    history: list
    can_decide: bool


FIELD_LABELS = {
    "kind": "Type d'entité",
    "name": "Raison sociale",
    "regime": "Régime",
    "siret": "SIRET",
    "activity_number": "Numéro de déclaration d'activité",
    "urssaf_issued_on": "Date de l'attestation URSSAF",
    "address": "Adresse",
    "postal_code": "Code postal",
    "city": "Ville",
}


def get_change_for(db: Session, role: ActiveRole, change_id: int) -> OrganizationChange | None:
    """The change if the role's caisse instructs it (any caisse: administrator)."""
    return db.exec(
        select(OrganizationChange).where(
            OrganizationChange.id == change_id,
            instruction_scope(role, OrganizationChange.fund_id),
        )
    ).first()


def _as_value(name: str, value):
    """A value of `OrganizationChange.changes` as the entity holds it (JSON keeps the
    attestation's date as ISO text; the entity, as midnight UTC like the request does)."""
    if name == "urssaf_issued_on" and isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return value


def change_screen(db: Session, role: ActiveRole, change: OrganizationChange) -> ChangeScreen:
    organization = db.get(Organization, change.organization_id)
    rows = [
        (FIELD_LABELS[name], getattr(organization, name), _as_value(name, value))
        for name, value in change.changes.items()
        if name in FIELD_LABELS
    ]

    def fund_name(fund_id):
        return db.get(Fund, fund_id).name if fund_id else None

    return ChangeScreen(
        change=change,
        organization=organization,
        fund_name=fund_name(change.fund_id),
        current_fund_name=fund_name(organization.fund_id),
        requester=db.get(Person, change.requested_by_id),
        urssaf=db.get(StoredFile, change.urssaf_file_id) if change.urssaf_file_id else None,
        rows=rows,
        history=history(db, "organization_change", change.id),
        can_decide=may_decide(role, change.fund_id)
        and change.status == OrganizationChangeStatus.PENDING,
    )


def _decide_change(
    db: Session, change: OrganizationChange, version: int, actor_id: int, status: str, comment
) -> None:
    now = utcnow()
    done = db.exec(
        update(OrganizationChange)
        .where(
            OrganizationChange.id == change.id,
            OrganizationChange.version == version,
            OrganizationChange.status == OrganizationChangeStatus.PENDING,
        )
        .values(
            status=status,
            comment=comment,
            decided_at=now,
            decided_by_id=actor_id,
            version=OrganizationChange.version + 1,
        )
    ).rowcount
    if not done:
        db.rollback()
        raise ConflictError(CHANGE_ALREADY_DECIDED)
    db.refresh(change)


def accept_change(db: Session, role: ActiveRole, change: OrganizationChange, version: int) -> None:
    """Accepter: the entity takes the changed values; a new address in another department
    moves it to that department's caisse (the one instructing the change)."""
    _require_instructor(role, change.fund_id)
    _decide_change(db, change, version, role.person_id, OrganizationChangeStatus.ACCEPTED, None)
    organization = db.get(Organization, change.organization_id)
    before_fund = organization.fund_id
    before = {name: getattr(organization, name) for name in change.changes if name in FIELD_LABELS}
    for name, value in change.changes.items():
        if name in CHANGEABLE_FIELDS:
            setattr(organization, name, _as_value(name, value))
    if change.urssaf_file_id:
        organization.urssaf_file_id = change.urssaf_file_id
    if "postal_code" in change.changes:
        department, fund = fund_for_postal_code(db, organization.postal_code)
        organization.department_code = department.code
        organization.fund_id = fund.id
    organization.updated_at = utcnow()
    organization.version += 1
    db.add(organization)
    record_event(
        db,
        actor_id=role.person_id,
        action="organization_change.accepted",
        object_type="organization_change",
        object_id=change.id,
        from_state=OrganizationChangeStatus.PENDING,
        to_state=OrganizationChangeStatus.ACCEPTED,
        # what the entity held before, for the record (JSON: dates as text)
        data={
            "organization_id": organization.id,
            "before": {
                k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in before.items()
            },
            "fund_id": [before_fund, organization.fund_id],
        },
    )
    _tell_gestionnaires(
        db,
        change,
        f"La modification des données de {organization.name} est acceptée par la caisse",
    )


def refuse_change(
    db: Session, role: ActiveRole, change: OrganizationChange, version: int, comment: str | None
) -> None:
    _require_instructor(role, change.fund_id)
    comment = _checked_comment(comment)
    _decide_change(db, change, version, role.person_id, OrganizationChangeStatus.REFUSED, comment)
    organization = db.get(Organization, change.organization_id)
    record_event(
        db,
        actor_id=role.person_id,
        action="organization_change.refused",
        object_type="organization_change",
        object_id=change.id,
        from_state=OrganizationChangeStatus.PENDING,
        to_state=OrganizationChangeStatus.REFUSED,
        comment=comment,
    )
    _tell_gestionnaires(
        db,
        change,
        f"La modification des données de {organization.name} est refusée : {comment}"[:300],
    )


def _tell_gestionnaires(db: Session, change: OrganizationChange, title: str) -> None:
    close_tasks(db, "organization_change", change.id)
    grants = db.exec(
        select(RoleGrant).where(
            RoleGrant.organization_id == change.organization_id,
            RoleGrant.role == Role.GESTIONNAIRE,
            RoleGrant.active.is_(True),
        )
    ).all()
    for grant in grants:
        notify(
            db,
            person_id=grant.person_id,
            role_grant_id=grant.id,
            kind="organization_change.decided",
            title=title,
            link="/entite/",
            object_type="organization_change_decision",
            object_id=change.id,
        )
