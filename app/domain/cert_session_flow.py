"""The life of a certification session (SPEC §7), in one place.

En cours de saisie → (Envoyer au formateur) → En cours de validation Formateur
→ (Envoyer les résultats | Retour commenté) → En cours de validation Entité
→ (Modifier la saisie → En cours de saisie | Générer les certificats → Clôturée).

Every change names the version it read: the UPDATE only applies if nobody saved in
between (optimistic concurrency), else a ConflictError says so and nothing is written.
Every transition writes an audit event and tells the next actor.
"""

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import date, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import delete, update
from sqlmodel import Session, func, select

from app.clock import today, utcnow
from app.domain.access import ActiveRole, cert_session_scope
from app.domain.accreditation_status import suspensions_by_accreditation
from app.domain.audit import record_event
from app.domain.background import enqueue_after_commit
from app.domain.cert_session_rules import (
    FIELD_NAMES,
    REQUIRED_MESSAGES,
    SessionFields,
    allowed_end_dates,
    check_accreditation_on,
    check_group_size,
    check_session_fields,
    declarable_accreditations,
)
from app.domain.errors import ConflictError, DomainError
from app.domain.notifications import close_links_to, close_tasks, grant_for, notify
from app.domain.statistics import count_session
from app.domain.trainees import TraineeInput, check_trainee, duplicate_of, trainees_of
from app.domain.trainer_check import check_trainer
from app.models import Accreditation, AuditEvent, CertSession, Person, SchemeLevel, Trainee
from app.models.cert_sessions import SESSION_STATE_LABELS, SessionState
from app.models.people import Role

ENTITY_ROLES = frozenset({Role.GESTIONNAIRE, Role.DELEGATAIRE})
TRAINER_ROLES = frozenset({Role.FORMATEUR})
CONFLICT = (
    "Quelqu'un a modifié cette session pendant que vous la consultiez : vos changements "
    "n'ont pas été enregistrés. Rechargez la page pour voir la dernière version."
)


class Action(StrEnum):
    EDIT = "edit"
    SEND_TO_TRAINER = "send_to_trainer"
    SAVE_RESULTS = "save_results"
    SEND_RESULTS = "send_results"
    RETURN = "return"
    MODIFY = "modify"
    GENERATE = "generate"
    DELETE = "delete"


@dataclass(frozen=True)
class Transition:
    sources: frozenset
    roles: frozenset
    target: SessionState | None  # None: the state does not change


TRANSITIONS = {
    Action.EDIT: Transition(frozenset({SessionState.DRAFT}), ENTITY_ROLES, None),
    Action.SEND_TO_TRAINER: Transition(
        frozenset({SessionState.DRAFT}), ENTITY_ROLES, SessionState.TRAINER
    ),
    Action.SAVE_RESULTS: Transition(frozenset({SessionState.TRAINER}), TRAINER_ROLES, None),
    Action.SEND_RESULTS: Transition(
        frozenset({SessionState.TRAINER}), TRAINER_ROLES, SessionState.ENTITY
    ),
    Action.RETURN: Transition(
        frozenset({SessionState.TRAINER}), TRAINER_ROLES, SessionState.ENTITY
    ),
    Action.MODIFY: Transition(frozenset({SessionState.ENTITY}), ENTITY_ROLES, SessionState.DRAFT),
    Action.GENERATE: Transition(
        frozenset({SessionState.ENTITY}), ENTITY_ROLES, SessionState.CLOSED
    ),
    Action.DELETE: Transition(
        frozenset({SessionState.DRAFT, SessionState.TRAINER, SessionState.ENTITY}),
        ENTITY_ROLES,
        None,
    ),
}


def allowed(role: ActiveRole, cert_session: CertSession, action: Action) -> bool:
    rule = TRANSITIONS[action]
    return cert_session.state in rule.sources and role.role in rule.roles


def allowed_actions(role: ActiveRole, cert_session: CertSession) -> set[Action]:
    return {a for a in Action if allowed(role, cert_session, a)}


def _require(role: ActiveRole, cert_session: CertSession, action: Action) -> None:
    if not allowed(role, cert_session, action):
        state = SESSION_STATE_LABELS[SessionState(cert_session.state)]
        raise DomainError(f"Cette action n'est pas possible sur une session « {state} ».")


def get_for_role(db: Session, role: ActiveRole, cert_session_id: int) -> CertSession | None:
    """The session if the active role may see it (SPEC §7 "Visibility"), else None."""
    return db.exec(
        select(CertSession).where(CertSession.id == cert_session_id, cert_session_scope(role))
    ).first()


def _write(db: Session, cert_session: CertSession, version: int, actor_id: int, **values) -> None:
    """Apply `values` only if the session is still at `version`; bump it."""
    now = utcnow()
    done = db.exec(
        update(CertSession)
        .where(CertSession.id == cert_session.id, CertSession.version == version)
        .values(version=CertSession.version + 1, updated_at=now, last_actor_id=actor_id, **values)
    ).rowcount
    if not done:
        db.rollback()
        raise ConflictError(CONFLICT)
    db.refresh(cert_session)


def _audit(db, role, cert_session, action, before, after=None, comment=None, data=None):
    record_event(
        db,
        actor_id=role.person_id,
        action=f"cert_session.{action}",
        object_type="cert_session",
        object_id=cert_session.id,
        from_state=before,
        to_state=after or before,
        comment=comment,
        data=data,
    )


# --- draft -----------------------------------------------------------------------------


def new_session(db: Session, role: ActiveRole) -> CertSession:
    """The unsaved session behind "Nouvelle session": it gets its number on its first save,
    so a click left there leaves nothing behind."""
    if role.role not in ENTITY_ROLES:
        raise DomainError("Seuls les gestionnaires et délégataires déclarent des sessions.")
    if not declarable_accreditations(db, role):
        first, last = allowed_end_dates()
        raise DomainError(
            "Aucune habilitation valide ne vous permet de déclarer une session : déclarée "
            f"aujourd'hui, elle devrait se terminer entre le {first:%d/%m/%Y} et le "
            f"{last:%d/%m/%Y}, pendant la validité d'une de vos habilitations."
        )
    return CertSession(
        organization_id=role.organization_id,
        created_by_id=role.person_id,
        last_actor_id=role.person_id,
        state=SessionState.DRAFT,
    )


def first_save_errors(db: Session, role: ActiveRole, values: SessionFields) -> dict[str, str]:
    """A draft's checks, and the dispositif and level: the least a numbered session has."""
    errors = check_session_fields(db, role, values)
    if not values.accreditation_id:
        errors.setdefault("accreditation_id", REQUIRED_MESSAGES["accreditation_id"])
    return errors


def create_session(
    db: Session, role: ActiveRole, values: SessionFields
) -> tuple[CertSession | None, dict[str, str]]:
    """The first save of a new session: (the session, {}) or (None, {field: message})."""
    cert_session = new_session(db, role)
    errors = first_save_errors(db, role, values)
    if errors:
        return None, errors
    for name, value in _changes(db, values).items():
        setattr(cert_session, name, value)
    db.add(cert_session)
    db.flush()
    _audit(db, role, cert_session, "created", None, SessionState.DRAFT)
    return cert_session, {}


def session_fields(cert_session: CertSession) -> SessionFields:
    return SessionFields(**{f.name: getattr(cert_session, f.name) for f in fields(SessionFields)})


def _normalized(values: SessionFields) -> dict:
    """The Session tab's values as they are stored."""
    return dict(
        accreditation_id=values.accreditation_id,
        certificate_model_id=values.certificate_model_id,
        location=(values.location or "").strip() or None,
        platform_id=values.platform_id,
        postal_code=(values.postal_code or "").strip() or None,
        city=(values.city or "").strip() or None,
        is_refresher=values.is_refresher,
        end_date=values.end_date,
    )


def _changes(db: Session, values: SessionFields) -> dict:
    """The columns the Session tab writes (values already checked)."""
    scheme_level_id = None
    if values.accreditation_id:
        scheme_level_id = db.get(Accreditation, values.accreditation_id).scheme_level_id
    return {**_normalized(values), "scheme_level_id": scheme_level_id}


def unsaved_fields(cert_session: CertSession, on_screen: SessionFields) -> set[str]:
    """The Session tab's fields whose value on screen is not the one saved."""
    return {
        "location" if name == "platform_id" else name
        for name, value in _normalized(on_screen).items()
        if getattr(cert_session, name) != value
    }


def save_session_tab(
    db: Session, role: ActiveRole, cert_session: CertSession, version: int, values: SessionFields
) -> dict[str, str]:
    """Save the Session tab as a draft; returns {field: message} (nothing saved if any)."""
    _require(role, cert_session, Action.EDIT)
    errors = check_session_fields(db, role, values)
    if errors:
        return errors
    changes = _changes(db, values)
    unchanged = all(getattr(cert_session, name) == value for name, value in changes.items())
    if unchanged and cert_session.version == version:
        # switching tabs saves the draft: nothing new keeps the version, so the
        # other forms already on the page (send, trainees) stay current
        return {}
    _write(db, cert_session, version, role.person_id, **changes)
    return {}


def save_trainer(
    db: Session, role: ActiveRole, cert_session: CertSession, version: int, person: Person | None
) -> None:
    _require(role, cert_session, Action.EDIT)
    _write(db, cert_session, version, role.person_id, trainer_id=person.id if person else None)


def add_trainees(
    db: Session,
    role: ActiveRole,
    cert_session: CertSession,
    version: int,
    new: list[TraineeInput],
) -> dict[str, str]:
    """Add trainees (all or none); returns {field: message} for a single refused one."""
    _require(role, cert_session, Action.EDIT)
    level = (
        db.get(SchemeLevel, cert_session.scheme_level_id) if cert_session.scheme_level_id else None
    )
    existing = trainees_of(db, cert_session.id)
    for values in new:
        errors = check_trainee(values, level=level.level if level else 1)
        if errors:
            return errors
        if duplicate_of(existing, values):
            return {"last_name": "Ce stagiaire figure déjà dans la session."}
    position = max((t.position for t in existing), default=0)
    for values in new:
        position += 1
        trainee = Trainee(
            cert_session_id=cert_session.id,
            position=position,
            last_name=values.last_name.strip().upper(),
            first_name=values.first_name.strip(),
            birth_date=values.birth_date,
            email=(values.email or "").strip().lower() or None,
            person_id=values.person_id,
        )
        db.add(trainee)
        existing.append(trainee)
    _write(db, cert_session, version, role.person_id)
    return {}


def remove_trainee(
    db: Session, role: ActiveRole, cert_session: CertSession, version: int, trainee_id: int
) -> None:
    _require(role, cert_session, Action.EDIT)
    db.exec(
        delete(Trainee).where(Trainee.id == trainee_id, Trainee.cert_session_id == cert_session.id)
    )
    _write(db, cert_session, version, role.person_id)


# --- transitions -----------------------------------------------------------------------


def readiness(
    db: Session,
    role: ActiveRole,
    cert_session: CertSession,
    unsaved: Collection[str] = (),
    refused: bool = False,
) -> tuple[list[str], list[str]]:
    """(problems, warnings) before sending to the trainer, in the users' words, about what
    is saved. `unsaved`: the Session tab's fields whose value on screen is not saved (a
    refused save when `refused`): said so instead of contradicting the form."""
    problems = []
    if unsaved:
        names = [FIELD_NAMES[name] for name in FIELD_NAMES if name in unsaved]
        listed = ", ".join(names[:-1]) + " et " + names[-1] if len(names) > 1 else names[0]
        problems.append(
            f"Session (non enregistré) : les valeurs affichées pour {listed} ne sont pas "
            "enregistrées. "
            + (
                "Corrigez les champs signalés, puis enregistrez l'onglet Session."
                if refused
                else "Enregistrez l'onglet Session."
            )
        )
    errors = check_session_fields(db, role, session_fields(cert_session), complete=True)
    problems += [f"Session : {message}" for name, message in errors.items() if name not in unsaved]
    if cert_session.trainer_id is None:
        problems.append("Formateur : indiquez le formateur et lancez la vérification.")
    elif cert_session.scheme_level_id:
        trainer = db.get(Person, cert_session.trainer_id)
        check = check_trainer(
            db,
            scheme_level_id=cert_session.scheme_level_id,
            end_date=cert_session.end_date,
            forprev_number=trainer.forprev_number,
        )
        if not check.ok:
            problems.append(f"Formateur : {check.failure}")
    warnings = []
    if cert_session.scheme_level_id:
        level = db.get(SchemeLevel, cert_session.scheme_level_id)
        count = db.exec(
            select(func.count())
            .select_from(Trainee)
            .where(Trainee.cert_session_id == cert_session.id)
        ).one()
        error, warning = check_group_size(level, count)
        if error:
            problems.append(f"Stagiaires : {error}")
        if warning:
            warnings.append(warning)
    return problems, warnings


def send_to_trainer(db: Session, role: ActiveRole, cert_session: CertSession, version: int) -> None:
    _require(role, cert_session, Action.SEND_TO_TRAINER)
    problems, _warnings = readiness(db, role, cert_session)
    if problems:
        raise DomainError(" ".join(problems))
    _write(
        db,
        cert_session,
        version,
        role.person_id,
        state=SessionState.TRAINER,
        return_comment=None,
    )
    _audit(db, role, cert_session, "sent_to_trainer", SessionState.DRAFT, SessionState.TRAINER)
    close_tasks(db, "cert_session", cert_session.id)
    notify(
        db,
        person_id=cert_session.trainer_id,
        role_grant_id=grant_for(db, cert_session.trainer_id, [Role.FORMATEUR]),
        kind="cert_session.to_validate",
        title=f"Session de certification n° {cert_session.id} à valider",
        link=f"/sessions/{cert_session.id}/stagiaires",
        object_type="cert_session",
        object_id=cert_session.id,
    )


def record_results(
    db: Session,
    role: ActiveRole,
    cert_session: CertSession,
    version: int,
    results: dict[int, bool | None],
) -> None:
    """The trainer's Réussite / Échec per trainee, saved without sending."""
    _require(role, cert_session, Action.SAVE_RESULTS)
    for trainee in trainees_of(db, cert_session.id):
        if trainee.id in results:
            trainee.passed = results[trainee.id]
            db.add(trainee)
    _write(db, cert_session, version, role.person_id)


def send_results(
    db: Session,
    role: ActiveRole,
    cert_session: CertSession,
    version: int,
    results: dict[int, bool | None],
) -> None:
    _require(role, cert_session, Action.SEND_RESULTS)
    trainees = trainees_of(db, cert_session.id)
    missing = [t for t in trainees if results.get(t.id) is None]
    if missing:
        names = ", ".join(f"{t.first_name} {t.last_name}" for t in missing[:5])
        raise DomainError(
            f"Indiquez Réussite ou Échec pour chaque stagiaire (il manque : {names})."
        )
    for trainee in trainees:
        trainee.passed = results[trainee.id]
        db.add(trainee)
    _write(
        db, cert_session, version, role.person_id, state=SessionState.ENTITY, return_comment=None
    )
    _audit(db, role, cert_session, "results_sent", SessionState.TRAINER, SessionState.ENTITY)
    _tell_entity(db, cert_session, f"Résultats de la session n° {cert_session.id} à vérifier")


def return_to_entity(
    db: Session, role: ActiveRole, cert_session: CertSession, version: int, comment: str
) -> None:
    _require(role, cert_session, Action.RETURN)
    comment = (comment or "").strip()
    if not comment:
        raise DomainError("Expliquez dans le commentaire ce qu'il faut corriger.", field="comment")
    if len(comment) > 2000:
        raise DomainError("Le commentaire ne doit pas dépasser 2000 caractères.", field="comment")
    _write(
        db, cert_session, version, role.person_id, state=SessionState.ENTITY, return_comment=comment
    )
    _audit(
        db,
        role,
        cert_session,
        "returned",
        SessionState.TRAINER,
        SessionState.ENTITY,
        comment=comment,
    )
    _tell_entity(db, cert_session, f"Session n° {cert_session.id} retournée par le formateur")


def _tell_entity(db: Session, cert_session: CertSession, title: str) -> None:
    close_tasks(db, "cert_session", cert_session.id)
    notify(
        db,
        person_id=cert_session.created_by_id,
        role_grant_id=grant_for(
            db, cert_session.created_by_id, list(ENTITY_ROLES), cert_session.organization_id
        ),
        kind="cert_session.to_check",
        title=title,
        link=f"/sessions/{cert_session.id}/stagiaires",
        object_type="cert_session",
        object_id=cert_session.id,
    )


def modify(db: Session, role: ActiveRole, cert_session: CertSession, version: int) -> None:
    """Back to En cours de saisie; once corrected it goes to the trainer again."""
    _require(role, cert_session, Action.MODIFY)
    _write(db, cert_session, version, role.person_id, state=SessionState.DRAFT)
    _audit(db, role, cert_session, "reopened", SessionState.ENTITY, SessionState.DRAFT)
    close_tasks(db, "cert_session", cert_session.id)


def generation_opens_on(cert_session: CertSession) -> date | None:
    """The day the certificates may be generated from, while it is still to come (the end
    date: the trainer may send the results before it)."""
    if cert_session.end_date is not None and cert_session.end_date > today():
        return cert_session.end_date
    return None


def _accreditation_problem(db: Session, cert_session: CertSession) -> str | None:
    """Valid at the end date, even if it has ended since (a suspension may come later)."""
    if cert_session.accreditation_id is None:
        return REQUIRED_MESSAGES["accreditation_id"]
    accreditation = db.get(Accreditation, cert_session.accreditation_id)
    suspensions = suspensions_by_accreditation(db, [accreditation.id])[accreditation.id]
    return check_accreditation_on(accreditation, suspensions, cert_session.end_date)


def generate(db: Session, role: ActiveRole, cert_session: CertSession, version: int) -> int:
    """Close the session and hand the certificates to a worker; returns the successes."""
    _require(role, cert_session, Action.GENERATE)
    if cert_session.end_date is None:
        raise DomainError("La date de fin de session doit être renseignée.")
    if opens := generation_opens_on(cert_session):
        raise DomainError(
            f"Les certificats pourront être générés à partir du {opens:%d/%m/%Y}, date de fin "
            "de la session."
        )
    trainees = trainees_of(db, cert_session.id)
    if not trainees or any(t.passed is None for t in trainees):
        raise DomainError(
            "Le formateur n'a pas envoyé les résultats de tous les stagiaires : "
            "choisissez « Modifier la saisie de la session » pour la lui renvoyer."
        )
    if message := _accreditation_problem(db, cert_session):
        raise DomainError(message)
    successes = sum(1 for t in trainees if t.passed)
    _write(
        db,
        cert_session,
        version,
        role.person_id,
        state=SessionState.CLOSED,
        success_count=successes,
        closed_at=utcnow(),
        purge_after=today() + timedelta(days=current_app.config["RETENTION_DAYS"]),
    )
    _audit(
        db,
        role,
        cert_session,
        "closed",
        SessionState.ENTITY,
        SessionState.CLOSED,
        data={"successes": successes},
    )
    close_tasks(db, "cert_session", cert_session.id)
    count_session(db, cert_session)
    start_certificate_job(db, cert_session.id)
    return successes


def start_certificate_job(db: Session, cert_session_id: int) -> None:
    """After the commit, a worker builds the certificates (a time limit, and a failed job
    is kept no longer than the session's data)."""
    enqueue_after_commit(
        db,
        "jobs.certificates.generate_certificates",
        cert_session_id,
        job_timeout=30 * 60,
        failure_ttl=current_app.config["RETENTION_DAYS"] * 24 * 3600,
    )


def delete_session(db: Session, role: ActiveRole, cert_session: CertSession, version: int) -> None:
    _require(role, cert_session, Action.DELETE)
    if cert_session.version != version:
        raise ConflictError(CONFLICT)
    _audit(db, role, cert_session, "deleted", cert_session.state, "supprimee")
    close_tasks(db, "cert_session", cert_session.id)
    close_links_to(db, f"/sessions/{cert_session.id}")  # a draft's window alert, too
    db.exec(delete(Trainee).where(Trainee.cert_session_id == cert_session.id))
    done = db.exec(
        delete(CertSession).where(CertSession.id == cert_session.id, CertSession.version == version)
    ).rowcount
    if not done:
        db.rollback()
        raise ConflictError(CONFLICT)


def history(db: Session, cert_session_id: int) -> list[tuple[AuditEvent, Person | None]]:
    return list(
        db.exec(
            select(AuditEvent, Person)
            .outerjoin(Person, Person.id == AuditEvent.actor_id)
            .where(
                AuditEvent.object_type == "cert_session", AuditEvent.object_id == cert_session_id
            )
            .order_by(AuditEvent.at, AuditEvent.id)
        ).all()
    )
