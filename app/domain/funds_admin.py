"""Caisses (issue 14): each caisse with the departments it covers and its instructors;
an administrator creates instructor accounts for a caisse and other administrators, ends
an instructor's role, and changes the routing of a department to another caisse.

New accounts get the 72-hour first-password link (accounts.send_password_link), as a
colleague added by an entity does. The routing is the Department table, which
caisse_routing reads for every postal code typed from then on; entities already created
keep the caisse they have (Organization.fund_id is not rewritten).
"""

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, select

from app.domain.accounts import create_admin, send_password_link
from app.domain.audit import record_event
from app.domain.errors import DomainError
from app.domain.identifiers import new_forprev_number
from app.models import Department, Fund, Person, RoleGrant
from app.models.people import Role

ALREADY_INSTRUCTOR = "{name} est déjà instructeur de cette caisse."
SAME_FUND = "Le département {code} est déjà rattaché à {fund} : choisissez une autre caisse."
DEPARTMENT_UNKNOWN = "Choisissez un département de cette caisse."
FUND_UNKNOWN = "Choisissez la caisse qui reprendra le département."


@dataclass
class FundRow:
    id: int
    code: str
    name: str
    departments: list[str] = field(default_factory=list)
    instructors: int = 0


@dataclass(frozen=True)
class Instructor:
    grant_id: int
    person_id: int
    last_name: str
    first_name: str
    email: str
    forprev_number: str
    role_active: bool
    account_state: str  # what the list says of the account

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Added:
    person: Person
    created: bool  # a new account (the first-password link was mailed)


def _department_order(code: str) -> tuple[int, str]:
    """01 … 19, 2A, 2B, 21 … 95, 971 …: the order everyone reads them in."""
    return (len(code), {"2A": "20.1", "2B": "20.2"}.get(code, code))


def funds_overview(db: Session) -> list[FundRow]:
    """Every caisse with its departments and its active instructors' count, in three
    queries whatever the number of caisses."""
    funds = {f.id: FundRow(f.id, f.code, f.name) for f in db.exec(select(Fund).order_by(Fund.name))}
    for code, fund_id in db.exec(select(Department.code, Department.fund_id)):
        funds[fund_id].departments.append(code)
    counts = db.exec(
        select(RoleGrant.fund_id, func.count(RoleGrant.id))
        .where(RoleGrant.role == Role.INSTRUCTEUR, RoleGrant.active.is_(True))
        .group_by(RoleGrant.fund_id)
    )
    for fund_id, count in counts:
        if fund_id in funds:
            funds[fund_id].instructors = count
    for row in funds.values():
        row.departments.sort(key=_department_order)
    return list(funds.values())


def departments_of(db: Session, fund_id: int) -> list[str]:
    codes = db.exec(select(Department.code).where(Department.fund_id == fund_id)).all()
    return sorted(codes, key=_department_order)


def other_funds(db: Session, fund_id: int) -> list[Fund]:
    return list(db.exec(select(Fund).where(Fund.id != fund_id).order_by(Fund.name)).all())


# --- instructors ----------------------------------------------------------------------------


def instructors_query(fund_id: int):
    """The caisse's instructors, current ones first (a paginated list)."""
    return (
        select(RoleGrant, Person)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(RoleGrant.role == Role.INSTRUCTEUR, RoleGrant.fund_id == fund_id)
        .order_by(RoleGrant.active.desc(), Person.last_name, Person.first_name, RoleGrant.id)
    )


def _account_state(grant: RoleGrant, person: Person) -> str:
    if not grant.active:
        return "Rôle retiré"
    if person.deactivated_at is not None:
        return "Compte désactivé"
    if person.password_hash is None:
        return "En attente du mot de passe (lien envoyé)"
    return "Actif"


def instructors(rows) -> list[Instructor]:
    return [
        Instructor(
            grant_id=grant.id,
            person_id=person.id,
            last_name=person.last_name,
            first_name=person.first_name,
            email=person.email,
            forprev_number=person.forprev_number,
            role_active=grant.active,
            account_state=_account_state(grant, person),
        )
        for grant, person in rows
    ]


def _active_instructors(db: Session, fund_id: int) -> int:
    return db.exec(
        select(func.count(RoleGrant.id)).where(
            RoleGrant.role == Role.INSTRUCTEUR,
            RoleGrant.fund_id == fund_id,
            RoleGrant.active.is_(True),
        )
    ).one()


def _lock_fund(db: Session, fund_id: int) -> Fund:
    """The caisse's row, locked until commit: two administrators adding the same person at
    once are done one after the other."""
    return db.exec(select(Fund).where(Fund.id == fund_id).with_for_update()).one()


def add_instructor(
    db: Session, *, actor_id: int, fund_id: int, last_name: str, first_name: str, email: str
) -> Added:
    """The person with this e-mail gets the role (a new person: an account and the
    72-hour first-password link); audited."""
    fund = _lock_fund(db, fund_id)
    email = email.strip().lower()
    person = db.exec(select(Person).where(func.lower(Person.email) == email)).first()
    if person is not None and person.merged_into_id is not None:
        person = db.get(Person, person.merged_into_id)  # the record kept
    if person is not None and person.deactivated_at is not None:
        raise DomainError(
            f"Le compte de {person.first_name} {person.last_name} est désactivé : "
            "réactivez-le d'abord sous « Personnes ».",
            field="email",
        )
    created = person is None
    if person is None:
        person = Person(
            forprev_number=new_forprev_number(db),
            email=email,
            last_name=last_name.strip().upper(),
            first_name=first_name.strip(),
            active=False,
        )
        db.add(person)
        db.flush()
    grant = db.exec(
        select(RoleGrant).where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == Role.INSTRUCTEUR,
            RoleGrant.fund_id == fund.id,
            RoleGrant.organization_id.is_(None),
        )
    ).first()
    if grant is not None and grant.active:
        raise DomainError(
            ALREADY_INSTRUCTOR.format(name=f"{person.first_name} {person.last_name}"),
            field="email",
        )
    if grant is None:
        grant = RoleGrant(person_id=person.id, role=Role.INSTRUCTEUR, fund_id=fund.id)
    grant.active = True
    db.add(grant)
    db.flush()
    if person.password_hash is None:  # never logged in: the (new) link to start
        send_password_link(db, person, template="account_created")
    record_event(
        db,
        actor_id=actor_id,
        action="fund.instructor_added",
        object_type="fund",
        object_id=fund.id,
        to_state=Role.INSTRUCTEUR,
        data={"person_id": person.id, "created": created, "grant_id": grant.id},
    )
    return Added(person=person, created=created)


def remove_instructor(db: Session, *, actor_id: int, fund_id: int, grant_id: int) -> int:
    """The instructor's role in this caisse ends (it leaves their switcher at the next
    request; the account stays). Returns how many active instructors the caisse keeps:
    none is allowed, the screen warns. LookupError for another caisse's or a retired role."""
    _lock_fund(db, fund_id)
    grant = db.get(RoleGrant, grant_id)
    if (
        grant is None
        or grant.role != Role.INSTRUCTEUR
        or grant.fund_id != fund_id
        or not grant.active
    ):
        raise LookupError(grant_id)
    grant.active = False
    db.add(grant)
    db.flush()
    record_event(
        db,
        actor_id=actor_id,
        action="fund.instructor_removed",
        object_type="fund",
        object_id=fund_id,
        from_state=Role.INSTRUCTEUR,
        data={"person_id": grant.person_id, "grant_id": grant.id},
    )
    return _active_instructors(db, fund_id)


# --- routing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    department: str
    from_fund: Fund
    to_fund: Fund


def check_move(db: Session, fund_id: int, department: str | None, to_fund_id: int | None) -> Move:
    """The move asked for, or a DomainError naming the field: the department must be one
    of this caisse's, the caisse another one."""
    code = (department or "").strip().upper()
    row = db.get(Department, code) if code else None
    if row is None or row.fund_id != fund_id:
        raise DomainError(DEPARTMENT_UNKNOWN, field="department")
    current = db.get(Fund, fund_id)
    target = db.get(Fund, to_fund_id) if to_fund_id and to_fund_id > 0 else None
    if target is None:
        raise DomainError(FUND_UNKNOWN, field="to_fund_id")
    if target.id == fund_id:
        raise DomainError(SAME_FUND.format(code=code, fund=current.name), field="to_fund_id")
    return Move(department=code, from_fund=current, to_fund=target)


def move_department(
    db: Session, *, actor_id: int, fund_id: int, department: str | None, to_fund_id: int | None
) -> Move:
    """The department goes to the other caisse: postal codes typed from now on are routed
    there (caisse_routing reads this table); existing entities keep their caisse."""
    _lock_fund(db, fund_id)
    move = check_move(db, fund_id, department, to_fund_id)
    row = db.get(Department, move.department)
    row.fund_id = move.to_fund.id
    db.add(row)
    db.flush()
    record_event(
        db,
        actor_id=actor_id,
        action="fund.department_moved",
        object_type="fund",
        object_id=move.to_fund.id,
        from_state=move.from_fund.code,
        to_state=move.to_fund.code,
        data={
            "department": move.department,
            "from_fund_id": move.from_fund.id,
            "to_fund_id": move.to_fund.id,
        },
    )
    return move


# --- administrators ---------------------------------------------------------------------


def administrators_query():
    return (
        select(RoleGrant, Person)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(RoleGrant.role == Role.ADMINISTRATEUR, RoleGrant.active.is_(True))
        .order_by(Person.last_name, Person.first_name, RoleGrant.id)
    )


def administrators(rows) -> list[Instructor]:
    return instructors(rows)


def add_administrator(
    db: Session, *, actor_id: int, last_name: str, first_name: str, email: str
) -> Person:
    """A new administrator account and its 72-hour first-password link (create_admin, as
    `flask create-admin` does); an address already known is refused. Audited."""
    person, _raw = create_admin(db, email=email, first_name=first_name, last_name=last_name)
    record_event(
        db,
        actor_id=actor_id,
        action="account.admin_created",
        object_type="person",
        object_id=person.id,
        to_state=Role.ADMINISTRATEUR,
    )
    return person
