"""The people of an entity ("Utilisateurs", SPEC §6): gestionnaires and délégataires.

A gestionnaire adds a colleague by nom, prénom, date de naissance and e-mail: a person
already in Forprev is found (by e-mail, else by identity) and given the role, never
created twice; a new one gets an account and the 72-hour first-password link. A
délégataire holds délégations on active accreditations of the entity. The entity always
keeps a gestionnaire: the last one can be neither removed nor demoted.

The entity is always the active role's: nothing posted names it, so a forged form can
only name a role or an accreditation of another entity, which is not found here.
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, update
from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain.access import ActiveRole
from app.domain.accounts import check_birth_date, send_password_link
from app.domain.audit import record_event
from app.domain.errors import DomainError
from app.domain.identifiers import new_forprev_number
from app.domain.trainer_check import find_person_by_identity
from app.models import (
    Accreditation,
    Delegation,
    Organization,
    Person,
    RoleGrant,
    Scheme,
    SchemeLevel,
)
from app.models.people import ROLE_LABELS, Role

ENTITY_ROLES = (Role.GESTIONNAIRE, Role.DELEGATAIRE)
LAST_MANAGER = (
    "{name} est le seul gestionnaire de l'entité : ajoutez d'abord un autre gestionnaire, "
    "l'entité ne peut pas rester sans gestionnaire."
)


@dataclass(frozen=True)
class AccreditationChoice:
    id: int
    label: str  # "SST / 1 — H67001/2024/SST-1/O/00"


@dataclass
class Member:
    grant_id: int
    person_id: int
    last_name: str
    first_name: str
    email: str
    forprev_number: str
    role: Role
    delegations: list[AccreditationChoice] = field(default_factory=list)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Added:
    member: Member
    created: bool  # a new account (the first-password link was mailed)


def _manager_org(actor: ActiveRole) -> int:
    if actor.role != Role.GESTIONNAIRE or actor.organization_id is None:
        raise DomainError("Seul un gestionnaire de l'entité gère ses utilisateurs.")
    return actor.organization_id


# --- reading -----------------------------------------------------------------------------


def members_query(organization_id: int):
    """The entity's people and roles, for a paginated list (one row per role held)."""
    return (
        select(RoleGrant, Person)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(
            RoleGrant.organization_id == organization_id,
            RoleGrant.role.in_(ENTITY_ROLES),
            RoleGrant.active.is_(True),
        )
        .order_by(Person.last_name, Person.first_name, RoleGrant.id)
    )


def delegable_accreditations(db: Session, organization_id: int) -> list[AccreditationChoice]:
    """The entity's active accreditations (not ended), which may be delegated."""
    rows = db.exec(
        select(Accreditation, Scheme.code, SchemeLevel.level)
        .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Accreditation.organization_id == organization_id, Accreditation.end_date >= today())
        .order_by(Scheme.code, SchemeLevel.level, Accreditation.id)
    ).all()
    return [_choice(acc, code, level) for acc, code, level in rows]


def _choice(acc: Accreditation, code: str, level: int) -> AccreditationChoice:
    return AccreditationChoice(id=acc.id, label=f"{code} / {level} — {acc.number}")


def delegations_of(
    db: Session, organization_id: int, person_ids: list[int]
) -> dict[int, list[AccreditationChoice]]:
    """The accreditations of the entity delegated to each person (not revoked)."""
    found: dict[int, list[AccreditationChoice]] = {pid: [] for pid in person_ids}
    if not person_ids:
        return found
    rows = db.exec(
        select(Delegation.person_id, Accreditation, Scheme.code, SchemeLevel.level)
        .join(Accreditation, Accreditation.id == Delegation.accreditation_id)
        .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(
            Delegation.person_id.in_(person_ids),
            Delegation.revoked_at.is_(None),
            Accreditation.organization_id == organization_id,
        )
        .order_by(Scheme.code, SchemeLevel.level, Accreditation.id)
    ).all()
    for person_id, acc, code, level in rows:
        found[person_id].append(_choice(acc, code, level))
    return found


def members(db: Session, organization_id: int, rows) -> list[Member]:
    """`rows` of members_query (a page of them) as members with their délégations."""
    delegated = delegations_of(db, organization_id, [person.id for _, person in rows])
    return [_member(grant, person, delegated[person.id]) for grant, person in rows]


def _member(grant: RoleGrant, person: Person, delegations) -> Member:
    return Member(
        grant_id=grant.id,
        person_id=person.id,
        last_name=person.last_name,
        first_name=person.first_name,
        email=person.email,
        forprev_number=person.forprev_number,
        role=Role(grant.role),
        delegations=delegations if grant.role == Role.DELEGATAIRE else [],
    )


def member_of(db: Session, actor: ActiveRole, grant_id: int) -> Member | None:
    """A role held in the actor's entity; None for any other (another entity's, revoked)."""
    organization_id = _manager_org(actor)
    row = db.exec(members_query(organization_id).where(RoleGrant.id == grant_id)).first()
    if row is None:
        return None
    return members(db, organization_id, [row])[0]


# --- changing --------------------------------------------------------------------------


def _checked_role(role: str | None) -> Role:
    if role not in {r.value for r in ENTITY_ROLES}:
        raise DomainError("Choisissez le rôle : gestionnaire ou délégataire.", field="role")
    return Role(role)


def _checked_delegations(
    db: Session, organization_id: int, role: Role, accreditation_ids: list[int | None]
) -> set[int]:
    if role != Role.DELEGATAIRE:
        return set()
    wanted = {i for i in accreditation_ids if i is not None}
    if not wanted:
        raise DomainError(
            "Choisissez au moins une habilitation à déléguer.", field="accreditation_ids"
        )
    offered = {c.id for c in delegable_accreditations(db, organization_id)}
    if not wanted <= offered:
        raise DomainError(
            "Seules les habilitations actives de l'entité peuvent être déléguées.",
            field="accreditation_ids",
        )
    return wanted


def _lock(db: Session, organization_id: int) -> Organization:
    """The entity's row, locked until commit: two gestionnaires removing each other at
    once are done one after the other, and the second sees the first's removal."""
    return db.exec(
        select(Organization).where(Organization.id == organization_id).with_for_update()
    ).one()


def _active_managers(db: Session, organization_id: int) -> int:
    return db.exec(
        select(func.count(RoleGrant.id)).where(
            RoleGrant.organization_id == organization_id,
            RoleGrant.role == Role.GESTIONNAIRE,
            RoleGrant.active.is_(True),
        )
    ).one()


def _set_delegations(db: Session, person_id: int, organization_id: int, wanted: set[int]) -> None:
    """The person's délégations in the entity become exactly `wanted`."""
    now = utcnow()
    current = db.exec(
        select(Delegation)
        .join(Accreditation, Accreditation.id == Delegation.accreditation_id)
        .where(Delegation.person_id == person_id, Accreditation.organization_id == organization_id)
    ).all()
    known = {d.accreditation_id: d for d in current}
    for delegation in current:
        keep = delegation.accreditation_id in wanted
        if keep and delegation.revoked_at is not None:
            delegation.revoked_at = None
            db.add(delegation)
        elif not keep and delegation.revoked_at is None:
            delegation.revoked_at = now
            db.add(delegation)
    for accreditation_id in wanted - set(known):
        db.add(Delegation(person_id=person_id, accreditation_id=accreditation_id))


def _grant(db: Session, person_id: int, role: Role, organization_id: int) -> RoleGrant:
    """The person's role in the entity, made active: a revoked one comes back."""
    grant = db.exec(
        select(RoleGrant).where(
            RoleGrant.person_id == person_id,
            RoleGrant.role == role,
            RoleGrant.organization_id == organization_id,
        )
    ).first()
    if grant is None:
        grant = RoleGrant(person_id=person_id, role=role, organization_id=organization_id)
    grant.active = True
    db.add(grant)
    db.flush()
    return grant


def _regrant(db: Session, grant: RoleGrant, role: Role) -> RoleGrant:
    """The same role row with its new role (its address, and the holder's choice of it in
    the switcher, stay); a revoked row of that role, kept from before, comes back instead."""
    revoked = db.exec(
        select(RoleGrant).where(
            RoleGrant.person_id == grant.person_id,
            RoleGrant.role == role,
            RoleGrant.organization_id == grant.organization_id,
        )
    ).first()
    if revoked is not None:
        grant.active = False
        db.add(grant)
        return _grant(db, grant.person_id, role, grant.organization_id)
    grant.role = role
    db.add(grant)
    db.flush()
    return grant


def _existing_person(
    db: Session, *, email: str, last_name: str, first_name: str, birth_date: date
) -> Person | None:
    """The same person, if Forprev knows them: by e-mail, else by identity (accents and
    case aside)."""
    person = db.exec(select(Person).where(func.lower(Person.email) == email)).first()
    return person or find_person_by_identity(
        db, last_name=last_name, first_name=first_name, birth_date=birth_date
    )


def add_member(
    db: Session,
    actor: ActiveRole,
    *,
    last_name: str,
    first_name: str,
    birth_date: date,
    email: str,
    role: str | None,
    accreditation_ids: list[int | None],
) -> Added:
    organization_id = _manager_org(actor)
    chosen = _checked_role(role)
    wanted = _checked_delegations(db, organization_id, chosen, accreditation_ids)
    problem = check_birth_date(birth_date)
    if problem:
        raise DomainError(problem, field="birth_date")
    email = email.strip().lower()
    last_name, first_name = last_name.strip().upper(), first_name.strip()
    organization = _lock(db, organization_id)
    person = _existing_person(
        db, email=email, last_name=last_name, first_name=first_name, birth_date=birth_date
    )
    created = person is None
    if person is None:
        person = Person(
            forprev_number=new_forprev_number(db),
            email=email,
            last_name=last_name,
            first_name=first_name,
            birth_date=birth_date,
            active=False,
        )
        db.add(person)
        db.flush()
    else:
        held = db.exec(
            members_query(organization_id).where(RoleGrant.person_id == person.id)
        ).first()
        if held is not None:
            raise DomainError(
                f"{person.first_name} {person.last_name} est déjà "
                f"{ROLE_LABELS[Role(held[0].role)].lower()} de l'entité : modifiez son rôle "
                "dans la liste.",
                field="email",
            )
    grant = _grant(db, person.id, chosen, organization_id)
    _set_delegations(db, person.id, organization_id, wanted)
    if person.password_hash is None:  # never logged in: the (new) link to start
        send_password_link(
            db,
            person,
            template="account_created",
            context={"added": {"organization": organization.name, "role": ROLE_LABELS[chosen]}},
        )
    record_event(
        db,
        actor_id=actor.person_id,
        action="entity_user.added",
        object_type="organization",
        object_id=organization_id,
        to_state=chosen,
        data={"person_id": person.id, "created": created, "accreditation_ids": sorted(wanted)},
    )
    db.flush()
    delegated = delegations_of(db, organization_id, [person.id])[person.id]
    return Added(member=_member(grant, person, delegated), created=created)


def _held(db: Session, actor: ActiveRole, grant_id: int) -> tuple[int, RoleGrant, Person]:
    organization_id = _manager_org(actor)
    row = db.exec(members_query(organization_id).where(RoleGrant.id == grant_id)).first()
    if row is None:
        raise LookupError(grant_id)  # another entity's role, or gone: the view answers 404
    return organization_id, *row


def change_member(
    db: Session,
    actor: ActiveRole,
    grant_id: int,
    *,
    role: str | None,
    accreditation_ids: list[int | None],
) -> Member:
    """A new role or new délégations; the last gestionnaire cannot be demoted."""
    organization_id, grant, person = _held(db, actor, grant_id)
    chosen = _checked_role(role)
    wanted = _checked_delegations(db, organization_id, chosen, accreditation_ids)
    _lock(db, organization_id)
    before = Role(grant.role)
    demoted = before == Role.GESTIONNAIRE and chosen != before
    if demoted and _active_managers(db, organization_id) <= 1:
        raise DomainError(LAST_MANAGER.format(name=_name(person)), field="role")
    if chosen != before:
        grant = _regrant(db, grant, chosen)
    _set_delegations(db, person.id, organization_id, wanted)
    record_event(
        db,
        actor_id=actor.person_id,
        action="entity_user.changed",
        object_type="organization",
        object_id=organization_id,
        from_state=before,
        to_state=chosen,
        data={"person_id": person.id, "accreditation_ids": sorted(wanted)},
    )
    db.flush()
    delegated = delegations_of(db, organization_id, [person.id])[person.id]
    return _member(grant, person, delegated)


def remove_member(db: Session, actor: ActiveRole, grant_id: int) -> Member:
    """The role ends (it leaves the person's switcher at their next request), and with it
    the délégations in this entity; the last gestionnaire stays."""
    organization_id, grant, person = _held(db, actor, grant_id)
    _lock(db, organization_id)
    if grant.role == Role.GESTIONNAIRE and _active_managers(db, organization_id) <= 1:
        raise DomainError(LAST_MANAGER.format(name=_name(person)))
    grant.active = False
    db.add(grant)
    if grant.role == Role.DELEGATAIRE:
        db.exec(
            update(Delegation)
            .where(
                Delegation.person_id == person.id,
                Delegation.revoked_at.is_(None),
                Delegation.accreditation_id.in_(
                    select(Accreditation.id).where(Accreditation.organization_id == organization_id)
                ),
            )
            .values(revoked_at=utcnow())
        )
    record_event(
        db,
        actor_id=actor.person_id,
        action="entity_user.removed",
        object_type="organization",
        object_id=organization_id,
        from_state=grant.role,
        data={"person_id": person.id},
    )
    return _member(grant, person, [])


def _name(person: Person) -> str:
    return f"{person.first_name} {person.last_name}"
