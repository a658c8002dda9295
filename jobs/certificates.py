"""Certificate generation for a closed session, run by an RQ worker.

Idempotent and resumable: certificates are created once (domain + unique index), each
PDF is stored and committed as soon as it is drawn, so a worker killed mid-way leaves the
finished ones and the next run carries on. Progress goes to the Bundle row (read by the
polling fragment on any web machine) and to the job's meta. The ZIP and the printing PDF
are streamed into storage chunk by chunk; neither sits whole in memory.
"""

import logging
import zipfile
from datetime import datetime, time, timedelta

from rq import get_current_job
from sqlmodel import select

from app.clock import PARIS
from app.domain.certificate_issue import archive_names, certificate_views, issue_certificates
from app.domain.certificate_pdf import render_pdf
from app.domain.notifications import grant_for, notify
from app.domain.pdf_concat import PdfConcatenator
from app.domain.storage import get_storage
from app.models import Bundle, CertSession
from app.models.cert_sessions import SessionState
from app.models.people import Role
from jobs.context import job_db

log = logging.getLogger(__name__)

READY, RUNNING, FAILED = "pret", "en_cours", "echec"


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
        try:
            certificates = issue_certificates(db, cert_session)
            bundle.total, bundle.status, bundle.error = len(certificates), RUNNING, None
            job = get_current_job()
            bundle.job_id = job.id if job else None
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
            bundle.status = READY
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
            failed = db.get(Bundle, bundle.id)
            if failed is not None:
                failed.status, failed.error = FAILED, str(exc)[:500]
                db.add(failed)
                db.commit()
            log.exception("Génération des certificats de la session %s", cert_session_id)
            raise


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


def retention_ttl(app) -> int:
    """Seconds a failed job (it holds a session id, not personal data) is kept: no
    longer than the session's data itself."""
    return int(timedelta(days=app.config["RETENTION_DAYS"]).total_seconds())
