"""What the active role may see and do. Every view asks here; nowhere else decides.

- `grants_of` lists the roles a person holds, with the labels the header shows.
- `can(role, action)` answers for an action; `require(action)` guards a view.
- `*_scope` functions give the WHERE clause limiting a list to the active role's data.
"""

from dataclasses import dataclass
from functools import wraps

from flask import abort, g, session
from flask_login import current_user
from sqlalchemy import and_, bindparam, false, or_, true, union
from sqlmodel import Session, select

from app.extensions import connection_of
from app.models import (
    Accreditation,
    CertSession,
    Delegation,
    Department,
    Fund,
    Organization,
    Person,
    RoleGrant,
    StatCounter,
)
from app.models.people import ROLE_LABELS, Role

# order of roles in the switcher; the first is active after login
ROLE_ORDER = [
    Role.GESTIONNAIRE,
    Role.DELEGATAIRE,
    Role.FORMATEUR,
    Role.INSTRUCTEUR,
    Role.ADMINISTRATEUR,
    Role.DEMANDEUR,
]


@dataclass(frozen=True)
class ActiveRole:
    grant_id: int
    person_id: int
    role: Role
    organization_id: int | None = None
    organization_name: str | None = None
    fund_id: int | None = None
    fund_name: str | None = None

    @property
    def label(self) -> str:
        scope = self.organization_name or self.fund_name
        base = ROLE_LABELS[self.role]
        return f"{base} — {scope}" if scope else base


@dataclass(frozen=True)
class ScopeKey:
    """What a list's scope reads of the active role, and nothing else: the key of a
    statement built once per scope (two roles with the same key see the same rows)."""

    role: Role
    organization_id: int | None
    person_id: int
    fund_id: int | None


def scope_key(role: ActiveRole) -> ScopeKey:
    return ScopeKey(role.role, role.organization_id, role.person_id, role.fund_id)


# action → roles allowed. An action not listed here is refused to everyone.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "dashboard.view": frozenset(Role),
    "account.view": frozenset(Role),
    "certificate.mine": frozenset({Role.FORMATEUR}),
    "message.send": frozenset({Role.INSTRUCTEUR, Role.ADMINISTRATEUR}),
    "help.view": frozenset(Role),
    "organization.view": frozenset({Role.GESTIONNAIRE, Role.DELEGATAIRE}),
    # "Habilitations" and an accreditation's page: the entity's (a délégataire: the delegated
    # ones), the caisse's entities', every one for an administrator (accreditation_scope)
    "accreditation.list": frozenset(
        {Role.GESTIONNAIRE, Role.DELEGATAIRE, Role.INSTRUCTEUR, Role.ADMINISTRATEUR}
    ),
    "accreditation.view": frozenset(
        {Role.GESTIONNAIRE, Role.DELEGATAIRE, Role.INSTRUCTEUR, Role.ADMINISTRATEUR}
    ),
    # a fixed platform added during the accreditation: by the entity, approved by the caisse
    "accreditation.add_platform": frozenset({Role.GESTIONNAIRE}),
    "accreditation.approve_platform": frozenset({Role.INSTRUCTEUR, Role.ADMINISTRATEUR}),
    # accreditation requests (app/domain/accreditation_flow.py decides phase by phase):
    # the gestionnaire prepares and submits, the caisse instructs, the CNH decides
    "accreditation_request.view": frozenset(
        {Role.GESTIONNAIRE, Role.INSTRUCTEUR, Role.ADMINISTRATEUR}
    ),
    "accreditation_request.manage": frozenset({Role.GESTIONNAIRE}),
    "accreditation_request.instruct": frozenset({Role.INSTRUCTEUR}),
    "accreditation_request.decide": frozenset({Role.ADMINISTRATEUR}),
    # suspensions of an accreditation: the caisse or the administrator
    "accreditation.suspend": frozenset({Role.INSTRUCTEUR, Role.ADMINISTRATEUR}),
    "cert_session.list": frozenset({Role.GESTIONNAIRE, Role.DELEGATAIRE, Role.FORMATEUR}),
    "cert_session.declare": frozenset({Role.GESTIONNAIRE, Role.DELEGATAIRE}),
    # the entity sees the session in the trainer's hands, but the results are the trainer's
    "cert_session.results": frozenset({Role.FORMATEUR}),
    "request.instruct": frozenset({Role.INSTRUCTEUR}),
    # "Demandes à instruire": a caisse's queue; an administrator sees every caisse's
    "instruction.view": frozenset({Role.INSTRUCTEUR, Role.ADMINISTRATEUR}),
    # validate or return an entity request, accept or refuse a change: the caisse decides
    "organization.instruct": frozenset({Role.INSTRUCTEUR}),
    "catalogue.view": frozenset({Role.ADMINISTRATEUR}),
    # the back office (SPEC §2): the catalogue, people, caisses, qualifications, import
    "catalogue.edit": frozenset({Role.ADMINISTRATEUR}),
    # "Personnes": every person for an administrator, the caisse's region for an
    # instructor (person_scope); merging two records is the administrator's
    "person.search": frozenset({Role.INSTRUCTEUR, Role.ADMINISTRATEUR}),
    "person.manage": frozenset({Role.INSTRUCTEUR, Role.ADMINISTRATEUR}),
    "person.merge": frozenset({Role.ADMINISTRATEUR}),
    # a trainer's qualification obtained outside Forprev, recorded by INRS
    "qualification.record": frozenset({Role.ADMINISTRATEUR}),
    # "Caisses": their instructors, the departments each covers, the administrators
    "fund.manage": frozenset({Role.ADMINISTRATEUR}),
    # "Import" of the data that exists before the first day
    "import.run": frozenset({Role.ADMINISTRATEUR}),
    # "Utilisateurs" and the entity's data: the gestionnaire alone (SPEC §4, §6)
    "entity_user.manage": frozenset({Role.GESTIONNAIRE}),
    "organization.edit": frozenset({Role.GESTIONNAIRE}),
    # "Demande de nouvelle entité" and "Mes demandes en cours" (SPEC §4)
    "entity_request.manage": frozenset({Role.DEMANDEUR}),
    # CSV exports: the entity's activity (gestionnaire), a closed session's certified
    # trainees for the "Passeport de prévention" (whoever sees the session, cert_session_scope)
    "export.activity": frozenset({Role.GESTIONNAIRE}),
    "export.passport": frozenset({Role.GESTIONNAIRE, Role.DELEGATAIRE}),
    # "Demandes d'assistance": the administrators are the support team
    "contact_request.manage": frozenset({Role.ADMINISTRATEUR}),
    # "Statistiques": national, the caisse's region, the entity (statistics_scope)
    "statistics.view": frozenset({Role.GESTIONNAIRE, Role.INSTRUCTEUR, Role.ADMINISTRATEUR}),
    # the FAQ and the manuals of "Aide et assistance": written by the administrators
    "help.edit": frozenset({Role.ADMINISTRATEUR}),
}


# read on every request: built once, only the person changes
_GRANTS_OF = (
    select(RoleGrant, Organization.name, Fund.name)
    .outerjoin(Organization, Organization.id == RoleGrant.organization_id)
    .outerjoin(Fund, Fund.id == RoleGrant.fund_id)
    .where(RoleGrant.person_id == bindparam("person_id"), RoleGrant.active == True)  # noqa: E712
)


def grants_of(db: Session, person_id: int) -> list[ActiveRole]:
    """Every active role of a person, in switcher order, in one query."""
    rows = db.exec(_GRANTS_OF, params={"person_id": person_id}).all()
    return _in_order(
        ActiveRole(
            grant_id=grant.id,
            person_id=grant.person_id,
            role=Role(grant.role),
            organization_id=grant.organization_id,
            organization_name=org_name,
            fund_id=grant.fund_id,
            fund_name=fund_name,
        )
        for grant, org_name, fund_name in rows
    )


def _in_order(roles) -> list[ActiveRole]:
    return sorted(roles, key=lambda r: (ROLE_ORDER.index(r.role), r.grant_id))


# the logged-in person and their roles, read together on every request: one statement,
# through the connection (columns only, no objects to build)
_PERSON_AND_GRANTS = (
    select(
        Person.id,
        Person.auth_version,
        Person.first_name,
        Person.last_name,
        Person.onboarded_at,
        Person.active,
        Person.deactivated_at,
        RoleGrant.id.label("grant_id"),
        RoleGrant.role,
        RoleGrant.organization_id,
        Organization.name.label("organization_name"),
        RoleGrant.fund_id,
        Fund.name.label("fund_name"),
    )
    .outerjoin(
        RoleGrant,
        and_(RoleGrant.person_id == Person.id, RoleGrant.active == True),  # noqa: E712
    )
    .outerjoin(Organization, Organization.id == RoleGrant.organization_id)
    .outerjoin(Fund, Fund.id == RoleGrant.fund_id)
    .where(Person.id == bindparam("person_id"))
)


def person_and_grants(db: Session, person_id: int):
    """The person's row (id, auth_version, names, onboarded_at, active, deactivated_at)
    and their active roles in switcher order; (None, []) for an unknown id."""
    rows = connection_of(db).execute(_PERSON_AND_GRANTS, {"person_id": person_id}).all()
    if not rows:
        return None, []
    roles = _in_order(
        ActiveRole(
            grant_id=row.grant_id,
            person_id=row.id,
            role=Role(row.role),
            organization_id=row.organization_id,
            organization_name=row.organization_name,
            fund_id=row.fund_id,
            fund_name=row.fund_name,
        )
        for row in rows
        if row.grant_id is not None
    )
    return rows[0], roles


def load_active_role(db: Session) -> ActiveRole | None:
    """The role chosen in this login session (the first one held if none was chosen)."""
    if "active_role" in g:
        return g.active_role
    active = None
    if current_user.is_authenticated:
        # read with the person by the login check (auth_user.load_user), else now
        roles = getattr(current_user, "roles", None)
        if roles is None:
            roles = grants_of(db, current_user.person_id)
        g.roles = roles
        chosen = session.get("role_grant_id")
        active = next((r for r in roles if r.grant_id == chosen), None)
        if active is None and roles:
            active = roles[0]
            session["role_grant_id"] = active.grant_id
    g.active_role = active
    return active


def switch_role(db: Session, person_id: int, grant_id: int) -> ActiveRole | None:
    """Make `grant_id` the active role; None if the person does not hold it."""
    target = next((r for r in grants_of(db, person_id) if r.grant_id == grant_id), None)
    if target is not None:
        session["role_grant_id"] = target.grant_id
        g.pop("active_role", None)
    return target


def can(role: ActiveRole | None, action: str) -> bool:
    return role is not None and role.role in PERMISSIONS.get(action, frozenset())


def require(action: str):
    """View decorator: 403 unless the active role may do `action`."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not can(g.get("active_role"), action):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_action = action
        return wrapped

    return decorator


def accreditation_scope(role: ActiveRole):
    """Accreditations the active role may see: the entity's (a délégataire: those delegated
    to them), the entities' of an instructor's caisse, every one for an administrator."""
    if role.role == Role.GESTIONNAIRE:
        return Accreditation.organization_id == role.organization_id
    if role.role == Role.DELEGATAIRE:
        delegated = select(Delegation.accreditation_id).where(
            Delegation.person_id == role.person_id, Delegation.revoked_at.is_(None)
        )
        return and_(
            Accreditation.organization_id == role.organization_id,
            Accreditation.id.in_(delegated),
        )
    if role.role == Role.INSTRUCTEUR and role.fund_id is not None:
        return Accreditation.organization_id.in_(
            select(Organization.id).where(Organization.fund_id == role.fund_id)
        )
    if role.role == Role.ADMINISTRATEUR:
        return true()
    return false()


def cert_session_scope(role: ActiveRole):
    """Certification sessions the active role may see (SPEC §7 "Visibility")."""
    if role.role == Role.GESTIONNAIRE:
        return CertSession.organization_id == role.organization_id
    if role.role == Role.DELEGATAIRE:
        return and_(
            CertSession.organization_id == role.organization_id,
            CertSession.created_by_id == role.person_id,
        )
    if role.role == Role.FORMATEUR:
        return CertSession.trainer_id == role.person_id
    return false()


def organization_scope(role: ActiveRole):
    if role.role in (Role.GESTIONNAIRE, Role.DELEGATAIRE):
        return Organization.id == role.organization_id
    if role.role == Role.INSTRUCTEUR:
        return Organization.fund_id == role.fund_id
    if role.role == Role.ADMINISTRATEUR:
        return or_(Organization.id.is_not(None))
    return false()


def instruction_scope(role: ActiveRole, fund_column):
    """What the active role finds in "Demandes à instruire", by the caisse instructing it
    (`fund_column`): an instructor their caisse's, an administrator every caisse's."""
    if role.role == Role.INSTRUCTEUR:
        return fund_column == role.fund_id
    if role.role == Role.ADMINISTRATEUR:
        return true()
    return false()


def statistics_scope(role: ActiveRole):
    """The anonymous counters the active role may read: those of all entities together
    (app/domain/statistics.py) for an administrator, of their caisse's departments for an
    instructor; their entity's own for a gestionnaire (counted under its id, nothing
    personal)."""
    every_entity = StatCounter.organization_id == 0  # the counts of all entities together
    if role.role == Role.ADMINISTRATEUR:
        return every_entity
    if role.role == Role.INSTRUCTEUR and role.fund_id is not None:
        return and_(
            every_entity,
            StatCounter.department_code.in_(
                select(Department.code).where(Department.fund_id == role.fund_id)
            ),
        )
    if role.role == Role.GESTIONNAIRE and role.organization_id is not None:
        return StatCounter.organization_id == role.organization_id
    return false()


def person_scope(role: ActiveRole):
    """The people the active role finds under "Personnes": everyone for an administrator;
    for an instructor the caisse's region — people holding a role in one of its entities or
    in the caisse itself, and the trainers it follows (Person.trainer_fund_id)."""
    if role.role == Role.ADMINISTRATEUR:
        return true()
    if role.role == Role.INSTRUCTEUR and role.fund_id is not None:
        # one set of ids, each part read by an index (an OR of them would test every person)
        in_entities = (
            select(RoleGrant.person_id)
            .join(Organization, Organization.id == RoleGrant.organization_id)
            .where(Organization.fund_id == role.fund_id, RoleGrant.active.is_(True))
        )
        in_fund = select(RoleGrant.person_id).where(
            RoleGrant.fund_id == role.fund_id, RoleGrant.active.is_(True)
        )
        followed = select(Person.id).where(Person.trainer_fund_id == role.fund_id)
        return Person.id.in_(union(in_entities, in_fund, followed))
    return false()
