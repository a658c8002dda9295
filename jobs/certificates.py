"""Certificate generation for a closed session, run by an RQ worker.

Idempotent and resumable: certificates are created once (domain + unique index), each
PDF is stored and committed as soon as it is drawn, so a worker killed mid-way leaves the
finished ones and the next run carries on. Progress goes to the Bundle row (read by the
polling fragment on any web machine) and to the job's meta. The ZIP and the printing PDF
are streamed into storage chunk by chunk; neither sits whole in memory.

Nobody has to notice a generation that stopped: a job that raises asks for the next run
itself, and one whose work horse or worker was killed is found by the scheduler's sweep
(`recover_stopped`, through RQ's failed and abandoned jobs). It is taken up again from
where it stopped, at most MAX_RESUMES times in a row; then the bundle is marked failed and
the Téléchargements tab shows why, with the button to start it again.
"""

import logging
import zipfile
from datetime import datetime, time, timedelta

from rq import Queue, get_current_job
from sqlalchemy import and_, or_
from sqlmodel import Session, select

from app.clock import PARIS, utcnow
from app.domain.cert_session_flow import start_certificate_job
from app.domain.certificate_issue import archive_names, certificate_views, issue_certificates
from app.domain.certificate_pdf import render_pdf
from app.domain.notifications import grant_for, notify
from app.domain.pdf_concat import PdfConcatenator
from app.domain.statistics import count_session
from app.domain.storage import get_storage
from app.models import Bundle, CertSession
from app.models.cert_sessions import SessionState
from app.models.people import Role
from app.queue import get_queue
from jobs import recovery
from jobs.context import job_db

log = logging.getLogger(__name__)

READY, RUNNING, FAILED = "pret", "en_cours", "echec"
GENERATE = "jobs.certificates.generate_certificates"
MAX_RESUMES = 3


def bundle_for(db, cert_session: CertSession) -> Bundle:
    bundle = db.exec(select(Bundle).where(Bundle.cert_session_id == cert_session.id)).first()
    if bundle is None:
        # downloadable until the end of the day before the purge date, Paris time
        last = datetime.combine(cert_session.purge_after, time(0, 0), tzinfo=PARIS)
        bundle = Bundle(cert_session_id=cert_session.id, status=RUNNING, expires_at=last)
        db.add(bundle)
        db.flush()
    return bundle


def _progress(bundle: Bundle, done: int) -> None:
    bundle.done = done
    job = get_current_job()
    if job is not None:
        job.meta.update(done=done, total=bundle.total)
        job.save_meta()


def generate_certificates(cert_session_id: int) -> dict:
    with job_db() as (app, db):
        cert_session = db.get(CertSession, cert_session_id)
        if cert_session is None or cert_session.state != SessionState.CLOSED:
            return {"status": "ignoré"}
        bundle = bundle_for(db, cert_session)
        if bundle.status == READY:
            return {"status": READY, "total": bundle.total}
        job = get_current_job()
        # the bundle names its job before any work: whatever stops it from here is seen
        bundle.status, bundle.job_id = RUNNING, job.id if job else None
        db.add(bundle)
        db.commit()
        try:
            # sessions closed before they were counted at closing: counted once, here
            count_session(db, cert_session)
            certificates = issue_certificates(db, cert_session)
            bundle.total = len(certificates)
            db.add(bundle)
            db.commit()
            storage = get_storage(app.config["STORAGE"])
            views = certificate_views(db, cert_session, certificates)
            for done, (certificate, view) in enumerate(zip(certificates, views, strict=True), 1):
                if certificate.file_id is None:
                    stored = storage.save(
                        db,
                        name=f"certificat-{certificate.number}.pdf",
                        content_type="application/pdf",
                        data=render_pdf(view),
                    )
                    certificate.file_id = stored.id
                    db.add(certificate)
                _progress(bundle, done)
                db.add(bundle)
                db.commit()
            _bundle_files(db, storage, cert_session, bundle, certificates)
            bundle.status, bundle.error = READY, None
            db.add(bundle)
            notify(
                db,
                person_id=cert_session.created_by_id,
                role_grant_id=grant_for(
                    db,
                    cert_session.created_by_id,
                    [Role.GESTIONNAIRE, Role.DELEGATAIRE],
                    cert_session.organization_id,
                ),
                kind="cert_session.certificates_ready",
                title=f"Certificats de la session n° {cert_session.id} prêts à télécharger",
                link=f"/sessions/{cert_session.id}/telechargements",
                object_type="bundle",
                object_id=bundle.id,
            )
            db.commit()
            return {"status": READY, "total": bundle.total}
        except Exception as exc:
            db.rollback()
            log.exception("Génération des certificats de la session %s", cert_session_id)
            stopped = db.get(Bundle, bundle.id)
            if stopped is not None and not _another_on_its_way(app, stopped, job):
                resume_or_fail(db, stopped, str(exc))
                db.commit()
            raise


def _another_on_its_way(app, bundle: Bundle, job) -> bool:
    """Another run for the same session is waiting or running (it carries on instead)."""
    try:
        queue = get_queue(app.config["REDIS_URL"])
        others = recovery.jobs_on_their_way(queue, GENERATE)
    except Exception:  # Redis away: the scheduler's sweep will decide later
        return True
    return any(
        other.args == (bundle.cert_session_id,) and (job is None or other.id != job.id)
        for other in others
    )


def resume_or_fail(db: Session, bundle: Bundle, reason: str) -> str:
    """A generation stopped before the end: the next run carries on from where it stopped
    (the PDFs already drawn are kept), at most MAX_RESUMES times in a row; after that the
    bundle is failed and the Téléchargements tab offers "Relancer la génération". The
    caller commits; the run is asked for after the commit. Returns the bundle's status."""
    bundle.error = reason[:500]
    if bundle.resumes < MAX_RESUMES:
        bundle.resumes += 1
        start_certificate_job(db, bundle.cert_session_id)
    else:
        bundle.status = FAILED
        log.warning(
            "Génération des certificats de la session %s abandonnée après %s reprises : %s",
            bundle.cert_session_id,
            bundle.resumes,
            reason,
        )
    db.add(bundle)
    return bundle.status


def recover_stopped(db: Session, queue: Queue, redis, limit: int = 50) -> list[str]:
    """The scheduler's sweep: closed sessions whose generation is neither finished nor on
    its way — its work horse or worker was killed, or Redis lost the job — are taken up
    again (or, after MAX_RESUMES, marked failed). Returns the runs it asked for."""
    rows = db.exec(
        select(CertSession.id, Bundle)
        .outerjoin(Bundle, Bundle.cert_session_id == CertSession.id)
        .where(
            CertSession.state == SessionState.CLOSED,
            or_(
                # its own job is on its way for the first 2 minutes
                and_(Bundle.id.is_(None), CertSession.closed_at < utcnow() - timedelta(minutes=2)),
                Bundle.status == RUNNING,
            ),
        )
        .order_by(CertSession.id)
        .limit(limit)
    ).all()
    asked, running = [], None
    for cert_session_id, bundle in rows:
        if bundle is not None and recovery.on_its_way(queue, bundle.job_id):
            continue
        if running is None:
            running = recovery.args_on_their_way(queue, GENERATE)
        if (cert_session_id,) in running:
            continue
        if bundle is not None:
            if resume_or_fail(db, bundle, "Le travail s'est arrêté sans finir.") == FAILED:
                continue
        elif redis.set(f"forprev:certificates:{cert_session_id}", "1", nx=True, ex=600):
            # closed while Redis was away: never started (asked at most every 10 minutes)
            start_certificate_job(db, cert_session_id)
        else:
            continue
        asked.append(f"{GENERATE}({cert_session_id})")
    db.commit()
    return asked


def _bundle_files(db, storage, cert_session, bundle, certificates) -> None:
    """The ZIP (one PDF per certificate) and one PDF of them all, for printing."""
    if bundle.zip_file_id is None:
        with (
            storage.writer(
                db,
                name=f"certificats-session-{cert_session.id}.zip",
                content_type="application/zip",
            ) as out,
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive,
        ):
            names = archive_names(db, cert_session, certificates)
            for certificate, name in zip(certificates, names, strict=True):
                with archive.open(name, "w") as entry:
                    for chunk in storage.iter_chunks(db, certificate.file_id):
                        entry.write(chunk)
        bundle.zip_file_id = out.file.id
    if bundle.pdf_file_id is None:
        with storage.writer(
            db,
            name=f"certificats-session-{cert_session.id}-impression.pdf",
            content_type="application/pdf",
        ) as out:
            joined = PdfConcatenator(out)
            for certificate in certificates:
                joined.add(storage.read(db, certificate.file_id))
            joined.close()
        bundle.pdf_file_id = out.file.id
