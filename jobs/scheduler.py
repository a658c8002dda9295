"""The single scheduler (Procfile `scheduler`): every tick it asks a worker to sweep the
outbox, and once a day it enqueues the daily jobs. A Redis key per day and job makes a
second scheduler or a restart harmless; the jobs themselves are idempotent too."""

import logging
import time
from datetime import timedelta

from sqlmodel import select

from app.clock import today, utcnow
from app.models import OutboxEmail
from app.models.messaging import MailStatus
from app.queue import get_queue, redis_connection

log = logging.getLogger("forprev.scheduler")

# dotted job names run once a day (filled as modules arrive: purge, alerts…)
DAILY_JOBS: list[str] = ["jobs.purge.purge_expired", "jobs.alerts.raise_daily_alerts"]


def tick(app, db) -> list[str]:
    """One round; returns the names of the jobs it enqueued."""
    enqueued = []
    queue = get_queue(app.config["REDIS_URL"])
    outbox_due = db.exec(
        select(OutboxEmail.id)
        .where(
            OutboxEmail.status.in_([MailStatus.PENDING, MailStatus.SENDING]),
            OutboxEmail.next_attempt_at <= utcnow(),
        )
        .limit(1)
    ).first()
    if outbox_due is not None:
        queue.enqueue("jobs.mail.deliver_outbox")
        enqueued.append("jobs.mail.deliver_outbox")
    redis = redis_connection(app.config["REDIS_URL"])
    enqueued += _unstarted_certificates(db, queue, redis)
    for job_name in DAILY_JOBS:
        key = f"forprev:daily:{today().isoformat()}:{job_name}"
        if redis.set(key, "1", nx=True, ex=2 * 24 * 3600):
            queue.enqueue(job_name)
            enqueued.append(job_name)
    return enqueued


def _unstarted_certificates(db, queue, redis) -> list[str]:
    """Sessions closed while Redis was away have no bundle yet: ask for them again (at most
    once per 10 minutes each; the job itself is idempotent)."""
    from app.models import Bundle, CertSession
    from app.models.cert_sessions import SessionState

    stuck = db.exec(
        select(CertSession.id)
        .outerjoin(Bundle, Bundle.cert_session_id == CertSession.id)
        .where(
            CertSession.state == SessionState.CLOSED,
            CertSession.closed_at < utcnow() - timedelta(minutes=2),
            Bundle.id.is_(None),
        )
        .limit(50)
    ).all()
    names = []
    for cert_session_id in stuck:
        if redis.set(f"forprev:certificates:{cert_session_id}", "1", nx=True, ex=600):
            queue.enqueue(
                "jobs.certificates.generate_certificates", cert_session_id, job_timeout=30 * 60
            )
            names.append(f"jobs.certificates.generate_certificates({cert_session_id})")
    return names


def run_forever(app, db_factory, tick_seconds: int) -> None:
    log.info("Planificateur démarré (toutes les %s s)", tick_seconds)
    while True:
        db = db_factory()
        try:
            names = tick(app, db)
            if names:
                log.info("Mis en file : %s", ", ".join(names))
        except Exception as exc:  # Redis or the database away: try again next tick
            log.warning("Tour du planificateur impossible : %s", exc)
        finally:
            db.close()
        time.sleep(tick_seconds)
