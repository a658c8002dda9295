""" "Personnes" (the back office): finding a person, their page, correcting an identity,
deactivating an account and merging two records of the same person.

An administrator sees everyone, an instructor the people of their caisse's region
(access.person_scope). Every change is audited; a correction names the values its form
showed (ConflictError when someone changed them meanwhile), and nothing is half-written:
the caller commits once.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from sqlalchemy import UniqueConstraint, delete, exists, func, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, select

from app.clock import utcnow
from app.domain.access import ActiveRole, person_scope
from app.domain.accounts import check_birth_date
from app.domain.accreditation_admin import InIds
from app.domain.audit import record_event
from app.domain.errors import ConflictError, DomainError
from app.domain.identifiers import is_forprev_number, normalize_forprev_number
from app.domain.mail import queue_email
from app.domain.storage import get_storage
from app.models import (
    AccountToken,
    Certificate,
    CertificateModel,
    CertSession,
    Delegation,
    Fund,
    Organization,
    Person,
    Qualification,
    RoleGrant,
    Scheme,
    SchemeLevel,
)
from app.models.cert_sessions import SESSION_STATE_LABELS
from app.models.people import ROLE_LABELS, Role
from app.text import fold

SEARCH_MAX = 100
# what the person's page lists of each kind, the most recent first (the total is shown)
PAGE_LIMIT = 20
CONFLICT = (
    "Quelqu'un a modifié l'identité de cette personne pendant que vous la consultiez : "
    "rien n'a été enregistré. Rechargez la page pour voir la dernière version."
)
ADMIN_ONLY = (
    "Seul un administrateur peut modifier le compte d'un instructeur ou d'un administrateur."
)
MERGED = "Cette fiche a été fusionnée dans une autre : elle ne se modifie plus."
# a merged record gives its e-mail address back (the column is unique): this one is never
# a real mailbox (.invalid, RFC 2606)
MERGED_EMAIL = "fusion-{}@invalid.forprev"
_DAY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


# --- search -------------------------------------------------------------------------------


def clean_search(text: str | None) -> str:
    return " ".join((text or "").split())[:SEARCH_MAX]


def parse_day(word: str) -> date | None:
    """A birth date typed as 12/03/1980 (also 12-03-1980, 12.03.1980 or 1980-03-12)."""
    match = _DAY.fullmatch(word)
    try:
        if match:
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        match = _ISO_DAY.fullmatch(word)
        if match:
            return date(*(int(part) for part in match.groups()))
    except ValueError:  # 31/02/1980
        return None
    return None


def search_statement(role: ActiveRole, search: str = ""):
    """The people the active role finds, by name, first name, e-mail, Forprev number (any
    part of each, accents and case ignored, each word somewhere) or birth date (a word
    like 12/03/1980), ordered by name. A merged record is never listed, but what finds it
    finds the person it was merged into."""
    query = select(Person).where(person_scope(role), Person.merged_into_id.is_(None))
    words = clean_search(search).split()
    days = [d for d in (parse_day(w) for w in words) if d is not None]
    texts = [w for w in words if parse_day(w) is None]
    for day in days:
        query = query.where(Person.birth_date == day)
    folded = fold(" ".join(texts)).split()
    if folded:
        # the matching records (trigrams on PostgreSQL), each taken to the one kept
        found = aliased(Person)
        matching = select(func.coalesce(found.merged_into_id, found.id)).where(
            *(found.search_folded.contains(word, autoescape=True) for word in folded)
        )
        # the kept ids are read first and each one's row by its key: a common word ("martin")
        # no longer hash-joins every person against them (InIds: = ANY(ARRAY(...)) on
        # PostgreSQL)
        query = query.where(InIds(Person.id, matching))
    return query.order_by(Person.last_name, Person.first_name, Person.id)


@dataclass(frozen=True)
class GrantLine:
    grant_id: int
    role: str
    active: bool
    organization_id: int | None
    organization_name: str | None
    fund_name: str | None
    created_at: datetime | None = None

    @property
    def label(self) -> str:
        scope = self.organization_name or self.fund_name
        base = ROLE_LABELS.get(self.role, self.role)
        return f"{base} — {scope}" if scope else base


_GRANTS = (
    select(RoleGrant, Organization.name, Fund.name)
    .outerjoin(Organization, Organization.id == RoleGrant.organization_id)
    .outerjoin(Fund, Fund.id == RoleGrant.fund_id)
)


def grants_by_person(
    db: Session, person_ids: list[int], *, only_active: bool = True
) -> dict[int, list[GrantLine]]:
    """The roles of these people with their entity or caisse, in one query."""
    if not person_ids:
        return {}
    query = _GRANTS.where(RoleGrant.person_id.in_(person_ids))
    if only_active:
        query = query.where(RoleGrant.active.is_(True))
    found: dict[int, list[GrantLine]] = {pid: [] for pid in person_ids}
    for grant, org_name, fund_name in db.exec(query.order_by(RoleGrant.id)).all():
        found[grant.person_id].append(
            GrantLine(
                grant_id=grant.id,
                role=grant.role,
                active=grant.active,
                organization_id=grant.organization_id,
                organization_name=org_name,
                fund_name=fund_name,
                created_at=grant.created_at,
            )
        )
    return found


@dataclass(frozen=True)
class PersonRow:
    person: Person
    roles: list[GrantLine]


def list_rows(db: Session, people: list[Person]) -> list[PersonRow]:
    """A page of `search_statement` with each person's roles: one query for the page."""
    roles = grants_by_person(db, [p.id for p in people])
    return [PersonRow(person=p, roles=roles.get(p.id, [])) for p in people]


# --- a person's page ----------------------------------------------------------------------


def get_for_role(db: Session, role: ActiveRole, person_id: int) -> Person | None:
    """The person if the active role may see them (a merged record: an administrator)."""
    return db.exec(select(Person).where(Person.id == person_id, person_scope(role))).first()


@dataclass(frozen=True)
class CertificateLine:
    certificate: Certificate
    model_name: str


@dataclass(frozen=True)
class QualificationLine:
    qualification: Qualification
    model_name: str


@dataclass(frozen=True)
class SessionLine:
    cert_session: CertSession
    organization_name: str
    scheme_code: str | None
    level: int | None
    state_label: str


@dataclass
class PersonPage:
    person: Person
    roles: list[GrantLine]
    certificates: list[CertificateLine]
    certificates_total: int
    qualifications: list[QualificationLine]
    qualifications_total: int
    sessions: list[SessionLine]
    sessions_total: int
    merged_into: Person | None = None
    merged_from: list[Person] = field(default_factory=list)

    @property
    def deactivated(self) -> bool:
        return self.person.deactivated_at is not None


def _count(db: Session, column, value) -> int:
    return db.exec(select(func.count()).where(column == value)).one()


def person_page(db: Session, person: Person) -> PersonPage:
    """Everything the person's page shows, each list limited to its PAGE_LIMIT latest."""
    certificates = db.exec(
        select(Certificate, CertificateModel.name)
        .join(CertificateModel, CertificateModel.id == Certificate.certificate_model_id)
        .where(Certificate.person_id == person.id)
        .order_by(Certificate.valid_until.desc(), Certificate.id.desc())
        .limit(PAGE_LIMIT)
    ).all()
    qualifications = db.exec(
        select(Qualification, CertificateModel.name)
        .join(CertificateModel, CertificateModel.id == Qualification.certificate_model_id)
        .where(Qualification.person_id == person.id)
        .order_by(Qualification.valid_until.desc(), Qualification.id.desc())
        .limit(PAGE_LIMIT)
    ).all()
    sessions = db.exec(
        select(CertSession, Organization.name, Scheme.code, SchemeLevel.level)
        .join(Organization, Organization.id == CertSession.organization_id)
        .outerjoin(SchemeLevel, SchemeLevel.id == CertSession.scheme_level_id)
        .outerjoin(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(CertSession.trainer_id == person.id)
        .order_by(CertSession.updated_at.desc(), CertSession.id.desc())
        .limit(PAGE_LIMIT)
    ).all()
    # an equality on merged_into_id: its index answers it, whatever the number of people
    merged_from = db.exec(
        select(Person).where(Person.merged_into_id == person.id).order_by(Person.id).limit(50)
    ).all()
    return PersonPage(
        person=person,
        roles=grants_by_person(db, [person.id], only_active=False)[person.id],
        certificates=[CertificateLine(c, name) for c, name in certificates],
        certificates_total=_count(db, Certificate.person_id, person.id),
        qualifications=[QualificationLine(q, name) for q, name in qualifications],
        qualifications_total=_count(db, Qualification.person_id, person.id),
        sessions=[
            SessionLine(s, org, code, level, SESSION_STATE_LABELS.get(s.state, s.state))
            for s, org, code, level in sessions
        ],
        sessions_total=_count(db, CertSession.trainer_id, person.id),
        merged_into=db.get(Person, person.merged_into_id) if person.merged_into_id else None,
        merged_from=list(merged_from),
    )


# --- identity, deactivation ---------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    last_name: str
    first_name: str
    birth_date: date | None

    @classmethod
    def of(cls, person: Person) -> "Identity":
        return cls(person.last_name, person.first_name, person.birth_date)

    def as_data(self) -> dict:
        return {
            "nom": self.last_name,
            "prénom": self.first_name,
            "date_de_naissance": self.birth_date.isoformat() if self.birth_date else None,
        }


def manage_refusal(db: Session, role: ActiveRole, person: Person) -> str | None:
    """Why the active role may not change this person's account, whoever asks: a merged
    record; for an instructor, the account of another instructor or of an administrator
    (the back office's own accounts are the administrators'). None when it may."""
    if person.merged_into_id is not None:
        return MERGED
    if role.role != Role.ADMINISTRATEUR:
        holds_office = db.exec(
            select(RoleGrant.id).where(
                RoleGrant.person_id == person.id,
                RoleGrant.role.in_([Role.INSTRUCTEUR, Role.ADMINISTRATEUR]),
            )
        ).first()
        if holds_office is not None:
            return ADMIN_ONLY
    return None


def _may_manage(db: Session, role: ActiveRole, person: Person) -> None:
    refusal = manage_refusal(db, role, person)
    if refusal:
        raise DomainError(refusal)


def correct_identity(
    db: Session, role: ActiveRole, person: Person, new: Identity, seen: Identity
) -> bool:
    """Correct a person's name, first name and birth date, as `seen` on the form (someone
    else changed them meanwhile: ConflictError). Audited with the values before and after,
    and the person told by e-mail. False when nothing changes."""
    _may_manage(db, role, person)
    if Identity.of(person) != seen:
        raise ConflictError(CONFLICT)
    problem = check_birth_date(new.birth_date)
    if problem:
        raise DomainError(problem, field="birth_date")
    new = Identity(new.last_name.strip().upper(), new.first_name.strip(), new.birth_date)
    before = Identity.of(person)
    if new == before:
        return False
    person.last_name, person.first_name, person.birth_date = (
        new.last_name,
        new.first_name,
        new.birth_date,
    )
    db.add(person)
    record_event(
        db,
        actor_id=role.person_id,
        action="person.identity_corrected",
        object_type="person",
        object_id=person.id,
        data={"avant": before.as_data(), "après": new.as_data()},
    )
    queue_email(
        db,
        to=person.email,
        subject="Forprev : votre identité a été corrigée",
        template="identity_corrected",
        context={"person": person, "before": before, "after": new},
        category="account",
        person_id=person.id,
    )
    return True


def deactivate(db: Session, role: ActiveRole, person: Person) -> None:
    """The person can no longer log in, and each of their login sessions stops matching
    (auth_version; the caller then ends them in Redis with
    app.auth_user.end_login_sessions). Nothing of theirs is deleted."""
    if person.id == role.person_id:
        raise DomainError("Vous ne pouvez pas désactiver votre propre compte.")
    _may_manage(db, role, person)
    if person.deactivated_at is not None:
        raise DomainError("Ce compte est déjà désactivé.")
    was_active = person.active
    person.active = False
    person.deactivated_at = utcnow()
    person.auth_version += 1
    db.add(person)
    _close_links(db, person.id)
    record_event(
        db,
        actor_id=role.person_id,
        action="person.deactivated",
        object_type="person",
        object_id=person.id,
        from_state="actif" if was_active else "inactif",
        to_state="désactivé",
    )


def reactivate(db: Session, role: ActiveRole, person: Person) -> None:
    _may_manage(db, role, person)
    if person.deactivated_at is None:
        raise DomainError("Ce compte n'est pas désactivé.")
    person.deactivated_at = None
    # an account never activated (its first-password link not followed) stays so
    person.active = person.password_hash is not None
    db.add(person)
    record_event(
        db,
        actor_id=role.person_id,
        action="person.reactivated",
        object_type="person",
        object_id=person.id,
        from_state="désactivé",
        to_state="actif" if person.active else "inactif",
    )


def _close_links(db: Session, person_id: int) -> None:
    """The person's password and e-mail links not yet used stop working."""
    db.exec(
        update(AccountToken)
        .where(AccountToken.person_id == person_id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
    )


# --- merge --------------------------------------------------------------------------------

# what every column pointing at a person means, as the preview says it; a column not
# named here still moves, under its table's name
MOVED_LABELS = {
    ("certificate", "person_id"): "Certificats délivrés",
    ("qualification", "person_id"): "Qualifications enregistrées",
    ("certsession", "trainer_id"): "Sessions animées comme formateur",
    ("certsession", "created_by_id"): "Sessions déclarées",
    ("certsession", "last_actor_id"): "Sessions dont il est le dernier intervenant",
    ("trainee", "person_id"): "Participations comme stagiaire",
    ("delegation", "person_id"): "Délégations d'habilitation",
    ("notification", "person_id"): "Tâches",
    ("alert", "person_id"): "Alertes",
    ("messagereceipt", "person_id"): "Messages reçus",
    ("targetedmessage", "author_id"): "Messages écrits",
    ("accreditationrequest", "created_by_id"): "Demandes d'habilitation créées",
    ("requestdocument", "uploaded_by_id"): "Documents déposés",
    ("suspension", "created_by_id"): "Suspensions enregistrées",
    ("organization", "created_by_id"): "Entités créées",
    ("organizationchange", "requested_by_id"): "Modifications d'entité demandées",
    ("organizationchange", "decided_by_id"): "Modifications d'entité décidées",
    ("contactrequest", "person_id"): "Demandes d'assistance",
    ("contactrequest", "answered_by_id"): "Réponses de l'assistance",
    ("manual", "updated_by_id"): "Manuels modifiés",
    ("qualification", "recorded_by_id"): "Qualifications saisies",
    ("importrun", "created_by_id"): "Imports lancés",
    ("person", "merged_into_id"): "Fiches déjà fusionnées dans le doublon",
}
# columns that stay with the duplicate: the audit trail is history (who did what, as they
# were then); the mails sent are a record of what went to which address; the duplicate's
# single-use links are closed, never handed to the kept account (they were mailed to the
# duplicate's address); its roles are moved by `_merge_grants`
STAYS = {
    ("auditevent", "actor_id"),
    ("outboxemail", "person_id"),
    ("accounttoken", "person_id"),
    ("rolegrant", "person_id"),
}


def person_links() -> list:
    """Every (table, column) pointing at a person, read from the models: a new table with
    such a column is merged without anyone remembering to add it."""
    links = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "person" for fk in column.foreign_keys):
                links.append((table, column))
    return links


def _moving_links() -> list:
    return [(t, c) for t, c in person_links() if (t.name, c.name) not in STAYS]


def _unique_partners(table, column) -> list[list]:
    """For each unique constraint holding `column`, its other columns: a row of the
    duplicate equal on them to one of the kept person's cannot move (it is the same)."""
    groups = [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    groups += [list(index.columns) for index in table.indexes if index.unique]
    return [
        [c for c in columns if c is not column]
        for columns in groups
        if any(c is column for c in columns)
    ]


def _same_as_kept(table, column, partner_columns, kept_id: int):
    other = table.alias("kept_row")
    return exists().where(
        other.c[column.name] == kept_id,
        *(other.c[c.name] == c for c in partner_columns),
    )


@dataclass(frozen=True)
class GrantConflict:
    """The same role in the same entity or caisse, held by both: one grant is kept."""

    kept: GrantLine
    duplicate: GrantLine

    @property
    def field_name(self) -> str:
        return f"role_{self.duplicate.grant_id}"


@dataclass
class MergePreview:
    kept: Person
    duplicate: Person
    moves: list[tuple[str, int]]  # what moves to the kept person, counted
    # what both hold (the same unique key): (label, what happens, how many)
    dropped: list[tuple[str, str, int]]
    grants_moved: list[GrantLine]
    grants_same: list[GrantLine]  # a role without entity both hold: one is enough
    conflicts: list[GrantConflict]
    taken: list["TakenField"] = field(default_factory=list)  # what the kept record lacks


def _grant_key(grant: RoleGrant):
    return (grant.role, grant.organization_id, grant.fund_id)


def _grant_plan(db: Session, kept: Person, duplicate: Person):
    """The duplicate's roles: moved, the same as one of the kept person's (no entity,
    dropped), or in conflict (same role in the same entity or caisse: one to choose)."""
    kept_grants = {
        _grant_key(g): g for g in db.exec(select(RoleGrant).where(RoleGrant.person_id == kept.id))
    }
    lines = grants_by_person(db, [kept.id, duplicate.id], only_active=False)
    kept_lines = {line.grant_id: line for line in lines[kept.id]}
    moved, same, conflicts = [], [], []
    dup_grants = db.exec(
        select(RoleGrant).where(RoleGrant.person_id == duplicate.id).order_by(RoleGrant.id)
    ).all()
    dup_lines = {line.grant_id: line for line in lines[duplicate.id]}
    for grant in dup_grants:
        line = dup_lines[grant.id]
        match = kept_grants.get(_grant_key(grant))
        if match is None:
            moved.append((grant, line))
        elif grant.organization_id is None and grant.fund_id is None:
            same.append((grant, match, line))
        else:
            conflicts.append((grant, match, GrantConflict(kept_lines[match.id], line)))
    return moved, same, conflicts


# --- what both records hold: one row of the two stays --------------------------------------

SAME_ROW = "déjà présent dans la fiche gardée : la copie du doublon n'est pas reprise"
DELEGATION_ACTIVE = "déjà active dans la fiche gardée : celle du doublon n'est pas reprise"
DELEGATION_REACTIVATED = (
    "retirée dans la fiche gardée mais active dans le doublon : elle redevient active"
)
DELEGATION_BOTH_REVOKED = "retirée dans les deux fiches : elle le reste"
SAME_QUALIFICATION = "la même qualification (même modèle, même début) : "


@dataclass(frozen=True)
class SharedRow:
    """A row of each record on the same unique key (a délégation on the same habilitation,
    a qualification of the same model from the same day): `stays` is kept with what it
    `takes` from the other, `goes` is deleted, and with it `drop_file_id` when no other
    row uses that file. `outcome` is what the preview says."""

    table: str
    stays: SQLModel
    goes: SQLModel
    takes: dict
    outcome: str
    drop_file_id: int | None = None

    def as_data(self) -> dict:
        return {
            "table": self.table,
            "gardée": self.stays.id,
            "supprimée": self.goes.id,
            "reprend": {k: _plain(v) for k, v in self.takes.items()},
            "fichier_supprimé": self.drop_file_id,
        }


def _plain(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def _shared_delegations(db: Session, kept: Person, duplicate: Person) -> list[SharedRow]:
    """The kept record's délégation stays; withdrawn while the duplicate's is active, it
    is active again (the délégataire keeps the habilitation)."""
    theirs = aliased(Delegation)
    pairs = db.exec(
        select(Delegation, theirs)
        .join(
            theirs,
            (theirs.accreditation_id == Delegation.accreditation_id)
            & (theirs.person_id == duplicate.id),
        )
        .where(Delegation.person_id == kept.id)
        .order_by(Delegation.id)
    ).all()
    shared = []
    for mine, other in pairs:
        takes, outcome = {}, DELEGATION_ACTIVE
        if mine.revoked_at is not None:
            if other.revoked_at is None:
                takes = {"revoked_at": None, "created_at": other.created_at}
                outcome = DELEGATION_REACTIVATED
            else:
                outcome = DELEGATION_BOTH_REVOKED
        shared.append(SharedRow("delegation", mine, other, takes, outcome))
    return shared


def _file_used(db: Session, file_id: int, *, besides: Qualification) -> bool:
    """Whether a row other than `besides` points at this stored file."""
    for table in SQLModel.metadata.sorted_tables:
        if table.name == "storedfilechunk":
            continue
        for column in table.columns:
            if any(fk.column.table.name == "storedfile" for fk in column.foreign_keys):
                query = select(func.count()).select_from(table).where(column == file_id)
                if table.name == "qualification":
                    query = query.where(table.c.id != besides.id)
                if db.exec(query).one():
                    return True
    return False


def _shared_qualifications(db: Session, kept: Person, duplicate: Person) -> list[SharedRow]:
    """The qualification valid the longer stays (the kept record's if they end the same
    day), with the other's file if it has none; the other's file, not kept, is deleted
    unless something else uses it."""
    theirs = aliased(Qualification)
    pairs = db.exec(
        select(Qualification, theirs)
        .join(
            theirs,
            (theirs.certificate_model_id == Qualification.certificate_model_id)
            & (theirs.valid_from == Qualification.valid_from)
            & (theirs.person_id == duplicate.id),
        )
        .where(Qualification.person_id == kept.id)
        .order_by(Qualification.id)
    ).all()
    shared = []
    for mine, other in pairs:
        if other.valid_until > mine.valid_until:
            stays, goes = other, mine
            outcome = "celle du doublon, valable plus longtemps, remplace celle de la fiche gardée"
            file_from = "de celle-ci"
        else:
            stays, goes = mine, other
            outcome = "celle de la fiche gardée reste"
            file_from = "du doublon"
        takes, drop_file_id = {}, None
        if goes.file_id is not None and goes.file_id != stays.file_id:
            if stays.file_id is None:
                takes = {"file_id": goes.file_id}
                outcome += f", avec le fichier {file_from}"
            elif not _file_used(db, goes.file_id, besides=goes):
                drop_file_id = goes.file_id
                outcome += " ; l'autre fichier est supprimé"
        shared.append(
            SharedRow(
                "qualification", stays, goes, takes, SAME_QUALIFICATION + outcome, drop_file_id
            )
        )
    return shared


# tables where which of the two rows stays depends on them; elsewhere the kept one's stays
SHARED_RULES = {"delegation": _shared_delegations, "qualification": _shared_qualifications}


def _shared_rows(db: Session, kept: Person, duplicate: Person) -> list[SharedRow]:
    return [row for rule in SHARED_RULES.values() for row in rule(db, kept, duplicate)]


def _settle_shared(db: Session, shared: list[SharedRow]) -> None:
    """Each pair becomes one row before the rest moves: the duplicate's that stays then
    moves like any other, nothing of it collides any more."""
    for row in shared:
        for name, value in row.takes.items():
            setattr(row.stays, name, value)
        db.add(row.stays)
        db.delete(row.goes)
        db.flush()
        if row.drop_file_id is not None:
            get_storage(current_app.config["STORAGE"]).delete(db, row.drop_file_id)


# --- what the kept record lacks -------------------------------------------------------------


@dataclass(frozen=True)
class TakenField:
    """A value of the duplicate's record the kept one lacks: it is taken over, never
    written over a value the kept record has."""

    label: str  # as the preview says it
    shown: str
    values: dict  # the Person columns it sets
    audit_key: str
    audit_value: object


def _taken_fields(db: Session, kept: Person, duplicate: Person) -> list[TakenField]:
    taken = []
    if kept.birth_date is None and duplicate.birth_date is not None:
        day = duplicate.birth_date
        taken.append(
            TakenField(
                "Date de naissance",
                day.strftime("%d/%m/%Y"),
                {"birth_date": day},
                "date_de_naissance",
                day.isoformat(),
            )
        )
    if kept.trainer_fund_id is None and duplicate.trainer_fund_id is not None:
        fund = db.get(Fund, duplicate.trainer_fund_id)
        taken.append(
            TakenField(
                "Caisse qui suit le formateur",
                fund.name,
                {"trainer_fund_id": fund.id},
                "caisse_du_formateur",
                fund.id,
            )
        )
    if kept.password_hash is None and duplicate.password_hash is not None:
        # the kept record never had its password: without the duplicate's, the person
        # could no longer log in at all; an account deactivated stays so
        active = kept.deactivated_at is None
        shown = "celui du doublon, avec lequel la personne se connectera"
        if not active:
            shown += " (le compte gardé reste désactivé)"
        taken.append(
            TakenField(
                "Mot de passe",
                shown,
                {"password_hash": duplicate.password_hash, "active": active},
                "mot_de_passe",
                "repris",
            )
        )
    if kept.onboarded_at is None and duplicate.onboarded_at is not None:
        # the kept record's notification choices were never made (the first login makes
        # them): the duplicate's come with its first login
        taken.append(
            TakenField(
                "Première connexion et choix de notification",
                "ceux du doublon",
                {
                    "onboarded_at": duplicate.onboarded_at,
                    "notify_alerts": duplicate.notify_alerts,
                    "notify_notifications": duplicate.notify_notifications,
                    "notify_messages": duplicate.notify_messages,
                },
                "première_connexion",
                duplicate.onboarded_at.isoformat(),
            )
        )
    return taken


def _lock_pair(db: Session, kept: Person, duplicate: Person) -> None:
    """Both records locked, in id order (two merges of the same two records wait for each
    other instead of deadlocking) and read again: a merge committed meanwhile is seen.
    SQLite writes one transaction at a time: FOR UPDATE is not needed there (nor sent)."""
    for person_id in sorted((kept.id, duplicate.id)):
        db.exec(
            select(Person)
            .where(Person.id == person_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()


def find_duplicate(db: Session, kept: Person, number: str, actor_id: int | None = None) -> Person:
    """The record to merge into `kept`, by its Forprev number; DomainError (field
    "duplicate_number") when it cannot be. `actor_id`: who merges (their own record is
    never the duplicate: the merge would end their login session)."""
    number = normalize_forprev_number(number)
    if not is_forprev_number(number):
        raise DomainError(
            "Saisissez le numéro Forprev du doublon : 3 lettres et 5 chiffres, par exemple "
            "JKA37899.",
            field="duplicate_number",
        )
    duplicate = db.exec(select(Person).where(Person.forprev_number == number)).first()
    if duplicate is None:
        raise DomainError("Aucune personne ne porte ce numéro Forprev.", field="duplicate_number")
    if duplicate.id == kept.id:
        raise DomainError(
            "C'est le numéro de cette personne : une fiche ne se fusionne pas avec elle-même.",
            field="duplicate_number",
        )
    if duplicate.merged_into_id is not None:
        raise DomainError(
            "Ce doublon a déjà été fusionné dans une autre fiche.", field="duplicate_number"
        )
    if kept.merged_into_id is not None:
        raise DomainError(MERGED, field="duplicate_number")
    if duplicate.id == actor_id:
        raise DomainError(
            "C'est votre propre fiche : elle ne peut pas être le doublon.",
            field="duplicate_number",
        )
    return duplicate


def merge_preview(db: Session, kept: Person, duplicate: Person) -> MergePreview:
    """What merging `duplicate` into `kept` would move, counted: one count per column."""
    moves, dropped = [], []
    for table, column in _moving_links():
        label = _label(table, column)
        of_duplicate = column == duplicate.id
        total = db.exec(select(func.count()).select_from(table).where(of_duplicate)).one()
        if not total:
            continue
        same = 0
        for partners in _unique_partners(table, column):
            same += db.exec(
                select(func.count())
                .select_from(table)
                .where(of_duplicate, _same_as_kept(table, column, partners, kept.id))
            ).one()
        if total - same:
            moves.append((label, total - same))
        if same and table.name not in SHARED_RULES:
            dropped.append((label, SAME_ROW, same))
    # what happens to each row both hold where it matters which stays, counted by outcome
    outcomes: dict[tuple[str, str], int] = {}
    for row in _shared_rows(db, kept, duplicate):
        key = (MOVED_LABELS[(row.table, "person_id")], row.outcome)
        outcomes[key] = outcomes.get(key, 0) + 1
    dropped += [(label, outcome, count) for (label, outcome), count in outcomes.items()]
    moved, same, conflicts = _grant_plan(db, kept, duplicate)
    return MergePreview(
        kept=kept,
        duplicate=duplicate,
        moves=moves,
        dropped=dropped,
        grants_moved=[line for _grant, line in moved],
        grants_same=[line for _grant, _match, line in same],
        conflicts=[conflict for _grant, _match, conflict in conflicts],
        taken=_taken_fields(db, kept, duplicate),
    )


def _label(table, column) -> str:
    return MOVED_LABELS.get((table.name, column.name), f"{table.name}.{column.name}")


KEEP_KEPT, KEEP_DUPLICATE = "garde", "doublon"


def merge(
    db: Session,
    role: ActiveRole,
    kept: Person,
    duplicate: Person,
    choices: dict[int, str],
) -> dict[str, int]:
    """Merge `duplicate` into `kept`: every row pointing at the duplicate moves to the
    kept person (STAYS aside), roles included — for a role both hold in the same entity
    or caisse, `choices` (the duplicate grant's id → KEEP_KEPT or KEEP_DUPLICATE) says
    which grant stays. The duplicate is deactivated, frees its e-mail address and keeps
    its Forprev number, which then finds the kept person. Everything is checked before
    anything is written; the caller commits once. Returns what moved, counted.

    Both records are locked first: merges of the same two records at the same time (B into
    A and A into B) run one after the other, and the second is refused."""
    _lock_pair(db, kept, duplicate)
    # the same refusals as the preview, on the records as they are once locked
    find_duplicate(db, kept, duplicate.forprev_number, role.person_id)
    moved, same, conflicts = _grant_plan(db, kept, duplicate)
    for _grant, _match, conflict in conflicts:
        if choices.get(conflict.duplicate.grant_id) not in (KEEP_KEPT, KEEP_DUPLICATE):
            raise DomainError(
                f"Les deux fiches ont le rôle « {conflict.kept.label} » : choisissez "
                "celui à garder.",
                field=conflict.field_name,
            )
    counts: dict[str, int] = {}

    # roles first: a grant removed hands its tasks to the one that stays
    for grant, match in [(g, m) for g, m, _line in same]:
        match.active = match.active or grant.active
        db.add(match)
        _drop_grant(db, grant, into=match)
    for grant, match, conflict in conflicts:
        if choices[conflict.duplicate.grant_id] == KEEP_KEPT:
            _drop_grant(db, grant, into=match)
        else:
            _drop_grant(db, match, into=grant)
            moved.append((grant, conflict.duplicate))
    db.flush()
    for grant, _line in moved:
        grant.person_id = kept.id
        db.add(grant)
    counts["Rôles"] = len(moved)
    db.flush()

    # what the kept record lacks, taken before the duplicate is changed below
    taken = _taken_fields(db, kept, duplicate)
    for item in taken:
        for name, value in item.values.items():
            setattr(kept, name, value)
    db.add(kept)
    db.flush()
    shared = _shared_rows(db, kept, duplicate)
    shared_data = [row.as_data() for row in shared]  # read before its rows go
    _settle_shared(db, shared)

    for table, column in _moving_links():
        of_duplicate = column == duplicate.id
        for partners in _unique_partners(table, column):
            db.exec(
                delete(table).where(of_duplicate, _same_as_kept(table, column, partners, kept.id))
            )
        result = db.exec(update(table).where(of_duplicate).values({column.name: kept.id}))
        if result.rowcount:
            label = _label(table, column)
            counts[label] = counts.get(label, 0) + result.rowcount
    _close_links(db, duplicate.id)
    db.expire_all()  # rows moved behind the ORM's back: read again what is used next

    duplicate = db.get(Person, duplicate.id)
    kept = db.get(Person, kept.id)
    old_email = duplicate.email
    duplicate.merged_into_id = kept.id
    duplicate.active = False
    duplicate.deactivated_at = duplicate.deactivated_at or utcnow()
    duplicate.email = MERGED_EMAIL.format(duplicate.id)
    duplicate.auth_version += 1
    db.add(duplicate)
    data = {
        "gardée": {"id": kept.id, "numéro": kept.forprev_number},
        "doublon": {"id": duplicate.id, "numéro": duplicate.forprev_number, "e-mail": old_email},
        "repris": counts,
        "repris_du_doublon": {item.audit_key: item.audit_value for item in taken},
        "tenu_par_les_deux": shared_data,
        "choix_des_rôles": {str(k): v for k, v in sorted(choices.items())},
    }
    record_event(
        db,
        actor_id=role.person_id,
        action="person.merged",
        object_type="person",
        object_id=kept.id,
        data=data,
    )
    record_event(
        db,
        actor_id=role.person_id,
        action="person.merged_into",
        object_type="person",
        object_id=duplicate.id,
        to_state="fusionnée",
        data=data,
    )
    db.flush()
    return counts


def _drop_grant(db: Session, grant: RoleGrant, *, into: RoleGrant) -> None:
    """Remove a grant held twice; whatever points at it (its tasks) goes to the one
    kept."""
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "rolegrant" for fk in column.foreign_keys):
                db.exec(update(table).where(column == grant.id).values({column.name: into.id}))
    db.delete(grant)
