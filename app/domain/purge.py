"""The 15-day purge (SPEC §7): a closed session, its trainees' personal data, the PDFs
and the bundle are deleted once their time is up; what remains is anonymous — counts for
statistics (app/domain/statistics.py, counted at closing), and the verification records (number, initials, birth year, validity).
Trainers' certificates (level ≥ 2) and their PDF stay on the trainer's account.
The session's history stays as who did what and when, tied to no session any more (its
comments go: they may name trainees); its open tasks and alerts are closed. Its number is
never given to another session (ids are never reused, see app/models/base.py)."""

from sqlalchemy import delete, update
from sqlmodel import Session, select

from app.clock import today
from app.domain.notifications import close_links_to
from app.domain.statistics import count_session
from app.domain.storage import get_storage
from app.models import (
    AuditEvent,
    Bundle,
    Certificate,
    CertSession,
    Trainee,
)
from app.models.cert_sessions import SessionState


def purge_session(db: Session, cert_session: CertSession, storage_name: str = "database") -> None:
    storage = get_storage(storage_name)
    # a session closed before counting existed is counted now, the others are not again
    count_session(db, cert_session)
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
