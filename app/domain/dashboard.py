"""What each role's dashboard shows: its tasks and a summary of its own data scope.
A fixed, small number of queries per role, whatever the data size."""

from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from typing import NamedTuple

from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain import organization_instruction as instruction
from app.domain.access import (
    ActiveRole,
    ScopeKey,
    accreditation_scope,
    cert_session_scope,
    scope_key,
)
from app.domain.accreditation_status import status_on, suspensions_by_accreditation
from app.domain.organization_instruction import OPEN_PHASES, Kind
from app.domain.qualifications import qualifications_of
from app.extensions import connection_of
from app.models import (
    Accreditation,
    AccreditationRequest,
    Certificate,
    CertificateModel,
    CertSession,
    Notification,
    Organization,
    Scheme,
    SchemeLevel,
)
from app.models.accreditations import REQUEST_PHASE_LABELS, RequestPhase
from app.models.cert_sessions import SESSION_STATE_LABELS, SessionState
from app.models.organizations import OrganizationStatus
from app.models.people import Role
from app.pagination import COUNT_CAP


@dataclass
class Dashboard:
    tasks: list = field(default_factory=list)
    # (label, count, link to the list it counts or None)
    figures: list[tuple[str, int | str, str | None]] = field(default_factory=list)
    accreditations: list = field(default_factory=list)
    sessions: list = field(default_factory=list)
    certificates: list = field(default_factory=list)
    organizations: list = field(default_factory=list)


# the statements of every dashboard are built once: the tasks' with its values bound, the
# others once per scope (ScopeKey: what the scope reads of the role, and nothing else)
_TASKS = (
    select(Notification)
    .where(
        Notification.person_id == bindparam("person_id"),
        Notification.done_at.is_(None),
        (Notification.role_grant_id == bindparam("grant_id"))
        | Notification.role_grant_id.is_(None),
    )
    .order_by(Notification.created_at.desc())
    .limit(10)
)


def build_dashboard(db: Session, role: ActiveRole) -> Dashboard:
    board = Dashboard()
    board.tasks = db.exec(
        _TASKS, params={"person_id": role.person_id, "grant_id": role.grant_id}
    ).all()
    if role.role in (Role.GESTIONNAIRE, Role.DELEGATAIRE):
        board.accreditations = _accreditations(db, role)
        board.figures = _session_counts(db, role)
    elif role.role == Role.FORMATEUR:
        board.sessions = _sessions(db, role, SessionState.TRAINER)
        board.certificates = _trainer_certificates(db, role)
        board.figures = _session_counts(db, role)
    elif role.role == Role.INSTRUCTEUR:
        board.figures = _instruction_counts(db, role)
    elif role.role == Role.ADMINISTRATEUR:
        day = today()
        board.figures = [
            (
                "Dispositifs au catalogue",
                db.exec(select(func.count()).select_from(Scheme)).one(),
                None,
            ),
            (
                "Entités validées",
                db.exec(
                    select(func.count())
                    .select_from(Organization)
                    .where(Organization.status == OrganizationStatus.VALIDATED)
                ).one(),
                None,
            ),
            (
                "Habilitations en vigueur",
                db.exec(
                    select(func.count())
                    .select_from(Accreditation)
                    .where(Accreditation.start_date <= day, Accreditation.end_date >= day)
                ).one(),
                None,
            ),
            (
                "Demandes en décision CNH",
                db.exec(
                    select(func.count())
                    .select_from(AccreditationRequest)
                    .where(AccreditationRequest.phase == RequestPhase.CNH)
                ).one(),
                instruction.queue_url(Kind.ACCREDITATION, phase=RequestPhase.CNH),
            ),
        ]
    elif role.role == Role.DEMANDEUR:
        board.organizations = db.exec(
            select(Organization)
            .where(Organization.created_by_id == role.person_id)
            .order_by(Organization.created_at.desc())
            .limit(10)
        ).all()
    return board


@lru_cache(maxsize=512)
def _accreditations_statement(scope: ScopeKey):
    return (
        select(Accreditation, Scheme.code, SchemeLevel.level)
        .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(accreditation_scope(scope))
        .order_by(Accreditation.end_date.desc())
        .limit(10)
    )


def _accreditations(db: Session, role: ActiveRole) -> list:
    rows = db.exec(_accreditations_statement(scope_key(role))).all()
    suspensions = suspensions_by_accreditation(db, [a.id for a, _, _ in rows])
    day = today()
    return [
        (acc, f"{code} / {level}", status_on(acc, suspensions[acc.id], day))
        for acc, code, level in rows
    ]


@lru_cache(maxsize=512)
def _session_counts_statement(scope: ScopeKey):
    return select(
        *(
            select(func.count())
            .select_from(
                select(CertSession.id)
                .where(cert_session_scope(scope), CertSession.state == state)
                .limit(COUNT_CAP + 1)
                .subquery()
            )
            .scalar_subquery()
            for state in SessionState
        )
    )


def _session_counts(db: Session, role: ActiveRole) -> list[tuple[str, int | str]]:
    """Sessions per state in one statement, each counted up to COUNT_CAP like the lists:
    an entity with 100 000 sessions costs what one with 1 000 does."""
    counts = connection_of(db).execute(_session_counts_statement(scope_key(role))).one()
    return [
        (f"Sessions — {SESSION_STATE_LABELS[state]}", _capped(count), None)
        for state, count in zip(SessionState, counts, strict=True)
    ]


def _instruction_counts(db: Session, role: ActiveRole) -> list[tuple[str, int, str]]:
    """What waits for the caisse, each figure a link to that part of its queue."""
    waiting = instruction.counts(db, role)
    phases = dict(
        db.exec(
            select(AccreditationRequest.phase, func.count())
            .where(
                AccreditationRequest.fund_id == role.fund_id,
                AccreditationRequest.phase.in_(OPEN_PHASES),
            )
            .group_by(AccreditationRequest.phase)
        ).all()
    )
    queue = instruction.queue_url
    return [
        ("Dossiers administratifs à valider", waiting[Kind.ENTITY], queue(Kind.ENTITY)),
        ("Modifications d'entité à valider", waiting[Kind.CHANGE], queue(Kind.CHANGE)),
        *(
            (
                f"Demandes d'habilitation — {REQUEST_PHASE_LABELS[p]}",
                phases.get(p, 0),
                queue(Kind.ACCREDITATION, phase=p),
            )
            for p in OPEN_PHASES
        ),
    ]


def _capped(count: int) -> int | str:
    return count if count <= COUNT_CAP else f"plus de {COUNT_CAP:,}".replace(",", " ")


def _sessions(db: Session, role: ActiveRole, state: SessionState) -> list:
    return db.exec(
        select(CertSession, Organization.name, Scheme.code, SchemeLevel.level)
        .join(Organization, Organization.id == CertSession.organization_id)
        .join(SchemeLevel, SchemeLevel.id == CertSession.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(cert_session_scope(role), CertSession.state == state)
        .order_by(CertSession.updated_at.desc())
        .limit(10)
    ).all()


class _Recorded(NamedTuple):
    """A qualification recorded outside Forprev, shown in a certificate's columns."""

    session_end_date: date
    valid_until: date


def _trainer_certificates(db: Session, role: ActiveRole) -> list:
    """The trainer's valid certificates, issued in sessions or recorded by INRS."""
    issued = db.exec(
        select(Certificate, CertificateModel.name, Scheme.code, SchemeLevel.level)
        .join(CertificateModel, CertificateModel.id == Certificate.certificate_model_id)
        .join(SchemeLevel, SchemeLevel.id == Certificate.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Certificate.person_id == role.person_id, Certificate.valid_until >= today())
        .order_by(Certificate.valid_until.desc())
    ).all()
    recorded = [
        (_Recorded(q.valid_from, q.valid_until), q.model_name, q.scheme_code, q.level)
        for q in qualifications_of(db, role.person_id, valid_on=today())
    ]
    return sorted([*issued, *recorded], key=lambda row: row[0].valid_until, reverse=True)


@cache
def _todo_count_statement():
    from app.domain import alerts, targeted_messages

    person_id, grant_id = bindparam("person_id"), bindparam("grant_id")
    tasks = (
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.person_id == person_id,
            Notification.done_at.is_(None),
            (Notification.role_grant_id == grant_id) | Notification.role_grant_id.is_(None),
        )
    )
    return select(
        tasks.scalar_subquery(),
        alerts.unread_count_query(person_id).scalar_subquery(),
        targeted_messages.unread_count_query(person_id, bindparam("now")).scalar_subquery(),
    )


def todo_count(db: Session, role: ActiveRole) -> int:
    """The "À traiter" counter of the menu: open tasks of the active role, unread alerts,
    unread targeted messages, counted in one statement (each count indexed). It is on
    every page: the statement is built once, only its values change."""
    counts = (
        connection_of(db)
        .execute(
            _todo_count_statement(),
            {"person_id": role.person_id, "grant_id": role.grant_id, "now": utcnow()},
        )
        .one()
    )
    return sum(counts)
