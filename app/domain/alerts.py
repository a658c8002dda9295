"""Alerts (SPEC §8): reminders of a deadline, raised by the daily job.

Each alert has a key per person ("acc-12-<id>", "cert-<id>"…) under a unique constraint,
so running the job twice the same day — or every day — raises each alert once, and mails
it once, to the people who chose "Alertes".
"""

from datetime import date

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import func
from sqlmodel import Session, select

from app.clock import today
from app.domain.mail import mail_if_opted_in
from app.models import (
    Accreditation,
    Alert,
    Certificate,
    CertificateModel,
    CertSession,
    Organization,
    Person,
    RoleGrant,
    Scheme,
    SchemeLevel,
)
from app.models.cert_sessions import SessionState
from app.models.people import Role

EXPIRY_STEPS = (12, 6)  # months before an accreditation ends


def _raise(db: Session, person: Person, key: str, kind: str, message: str, link: str) -> bool:
    exists = db.exec(select(Alert.id).where(Alert.person_id == person.id, Alert.key == key)).first()
    if exists is not None:
        return False
    db.add(Alert(person_id=person.id, key=key, kind=kind, message=message, link=link))
    mail_if_opted_in(db, person, category="alert", message=message, link=link)
    return True


def accreditation_alerts(db: Session, day: date) -> int:
    raised = 0
    horizon = day + relativedelta(months=EXPIRY_STEPS[0])
    rows = db.exec(
        select(Accreditation, Organization.name, Scheme.code, SchemeLevel.level, Person)
        .join(Organization, Organization.id == Accreditation.organization_id)
        .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .join(RoleGrant, RoleGrant.organization_id == Accreditation.organization_id)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(
            Accreditation.end_date >= day,
            Accreditation.end_date <= horizon,
            RoleGrant.role == Role.GESTIONNAIRE,
            RoleGrant.active.is_(True),
        )
    ).all()
    for accreditation, org_name, code, level, person in rows:
        step = 6 if accreditation.end_date <= day + relativedelta(months=6) else 12
        message = (
            f"L'habilitation {code} / {level} de {org_name} prend fin le "
            f"{accreditation.end_date:%d/%m/%Y} (moins de {step} mois) : pensez au renouvellement."
        )
        raised += _raise(
            db,
            person,
            f"acc-{step}-{accreditation.id}",
            "accreditation_expiry",
            message,
            "/habilitations/",
        )
    return raised


def trainer_certificate_alerts(db: Session, day: date) -> int:
    months = current_app.config["TRAINER_ALERT_MONTHS"]
    rows = db.exec(
        select(Certificate, CertificateModel.name, Person)
        .join(CertificateModel, CertificateModel.id == Certificate.certificate_model_id)
        .join(Person, Person.id == Certificate.person_id)
        .where(
            Certificate.valid_until >= day,
            Certificate.valid_until <= day + relativedelta(months=months),
        )
    ).all()
    raised = 0
    for certificate, model_name, person in rows:
        message = (
            f"Votre {model_name[0].lower() + model_name[1:]} n'est plus valable après le "
            f"{certificate.valid_until:%d/%m/%Y} : pensez au maintien et à l'actualisation "
            "de vos compétences."
        )
        raised += _raise(
            db, person, f"cert-{certificate.id}", "certificate_expiry", message, "/mes-certificats"
        )
    return raised


def session_window_message(cert_session: CertSession, closes: date) -> str:
    """What is at stake when the declaration window of a session not yet closed ends:
    only a draft has a deadline (it can no longer be sent to the trainer); closing has
    none (webinar Q17), but a session put back in draft after it cannot be sent again."""
    number = f"La session n° {cert_session.id}"
    if cert_session.state == SessionState.DRAFT:
        return (
            f"{number} n'est pas encore envoyée au formateur : elle ne pourra plus l'être "
            f"après le {closes:%d/%m/%Y}."
        )
    if cert_session.state == SessionState.TRAINER:
        return (
            f"{number} attend les résultats du formateur. Il n'y a pas de délai pour la "
            "clôturer, mais une correction de sa saisie (après un retour commenté) devra "
            f"être renvoyée au formateur au plus tard le {closes:%d/%m/%Y}."
        )
    if cert_session.return_comment:
        return (
            f"{number} a été retournée par le formateur : corrigez sa saisie et renvoyez-la-lui "
            f"au plus tard le {closes:%d/%m/%Y}."
        )
    return (
        f"{number} attend que vous génériez les certificats : il n'y a pas de délai pour "
        "la clôturer, mais une modification de sa saisie devra être renvoyée au formateur "
        f"au plus tard le {closes:%d/%m/%Y}."
    )


def session_window_alerts(db: Session, day: date) -> int:
    """A session still not closed a week before its declaration window ends."""
    after = current_app.config["DECLARATION_MONTHS_AFTER"]
    latest_end = day - relativedelta(months=after) + relativedelta(days=7)
    rows = db.exec(
        select(CertSession, Person)
        .join(Person, Person.id == CertSession.created_by_id)
        .where(
            CertSession.state != SessionState.CLOSED,
            CertSession.end_date.is_not(None),
            CertSession.end_date <= latest_end,
            CertSession.end_date >= day - relativedelta(months=after),
        )
    ).all()
    raised = 0
    for cert_session, person in rows:
        closes = cert_session.end_date + relativedelta(months=after)
        raised += _raise(
            db,
            person,
            f"session-{cert_session.id}",
            "session_window",
            session_window_message(cert_session, closes),
            f"/sessions/{cert_session.id}",
        )
    return raised


def raise_alerts(db: Session, day: date | None = None) -> dict[str, int]:
    day = day or today()
    return {
        "habilitations": accreditation_alerts(db, day),
        "certificats": trainer_certificate_alerts(db, day),
        "sessions": session_window_alerts(db, day),
    }


def unread_alerts(db: Session, person_id: int, limit: int = 10) -> list[Alert]:
    return list(
        db.exec(
            select(Alert)
            .where(Alert.person_id == person_id, Alert.read_at.is_(None))
            .order_by(Alert.created_at.desc())
            .limit(limit)
        ).all()
    )


def unread_count_query(person_id):
    """Unread alerts of a person; `person_id` may be a bind parameter (see todo_count)."""
    return (
        select(func.count())
        .select_from(Alert)
        .where(Alert.person_id == person_id, Alert.read_at.is_(None))
    )
