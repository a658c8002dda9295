"""The 15-day purge (SPEC §7): a closed session, its trainees' personal data, the PDFs
and the bundle are deleted once their time is up; what remains is anonymous — counts for
statistics, and the verification records (number, initials, birth year, validity).
Trainers' certificates (level ≥ 2) and their PDF stay on the trainer's account.
The session's history stays as who did what and when, tied to no session any more (its
comments go: they may name trainees); its open tasks and alerts are closed. Its number is
never given to another session (ids are never reused, see app/models/base.py)."""

from sqlalchemy import delete, update
from sqlmodel import Session, select

from app.clock import today
from app.domain.notifications import close_links_to
from app.domain.storage import get_storage
from app.models import (
    AuditEvent,
    Bundle,
    Certificate,
    CertSession,
    Organization,
    Scheme,
    SchemeLevel,
    StatCounter,
    Trainee,
)
from app.models.cert_sessions import SessionState


def _count(db: Session, cert_session: CertSession) -> None:
    level = db.get(SchemeLevel, cert_session.scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id)
    organization = db.get(Organization, cert_session.organization_id)
    results = db.exec(
        select(Trainee.passed).where(Trainee.cert_session_id == cert_session.id)
    ).all()
    key = {
        "year": cert_session.end_date.year,
        "department_code": (cert_session.postal_code and _department(cert_session.postal_code))
        or organization.department_code
        or "",
        "scheme_code": scheme.code,
        "level": level.level,
        "is_refresher": bool(cert_session.is_refresher),
    }
    counter = db.exec(select(StatCounter).filter_by(**key)).first()
    if counter is None:
        counter = StatCounter(**key)
    counter.successes += sum(1 for r in results if r)
    counter.failures += sum(1 for r in results if r is False)
    db.add(counter)


def _department(postal_code: str) -> str:
    from app.domain.caisse_routing import department_for_postal_code

    try:
        return department_for_postal_code(postal_code)
    except Exception:
        return ""


def purge_session(db: Session, cert_session: CertSession, storage_name: str = "database") -> None:
    storage = get_storage(storage_name)
    _count(db, cert_session)
    certificates = db.exec(
        select(Certificate).where(Certificate.cert_session_id == cert_session.id)
    ).all()
    for certificate in certificates:
        if certificate.person_id is None and certificate.file_id is not None:
            file_id, certificate.file_id = certificate.file_id, None
            db.add(certificate)
            db.flush()
            storage.delete(db, file_id)
    db.exec(
        update(Certificate)
        .where(Certificate.cert_session_id == cert_session.id)
        .values(cert_session_id=None, trainee_id=None)
    )
    for bundle in db.exec(select(Bundle).where(Bundle.cert_session_id == cert_session.id)).all():
        files = [bundle.zip_file_id, bundle.pdf_file_id]
        db.delete(bundle)
        db.flush()
        for file_id in files:
            if file_id:
                storage.delete(db, file_id)
    db.exec(delete(Trainee).where(Trainee.cert_session_id == cert_session.id))
    db.exec(
        update(AuditEvent)
        .where(AuditEvent.object_type == "cert_session", AuditEvent.object_id == cert_session.id)
        .values(object_id=None, comment=None, data={})
    )
    close_links_to(db, f"/sessions/{cert_session.id}")
    db.delete(cert_session)


def purge_due(db: Session, storage_name: str = "database", limit: int = 200) -> int:
    """Purge the closed sessions whose day has come; returns how many. Run it twice the
    same day: the second run finds nothing."""
    due = db.exec(
        select(CertSession)
        .where(CertSession.state == SessionState.CLOSED, CertSession.purge_after <= today())
        .order_by(CertSession.purge_after, CertSession.id)
        .limit(limit)
    ).all()
    for cert_session in due:
        purge_session(db, cert_session, storage_name)
        db.commit()
    return len(due)
