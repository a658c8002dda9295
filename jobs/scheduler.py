"""The single scheduler (Procfile `scheduler`): every tick it asks a worker to sweep the
outbox, takes up the work of jobs that died, and once a day enqueues the daily jobs.
Redis keys make a second scheduler or a restart harmless; the jobs are idempotent too.

No job needs a person to recover: the outbox is swept from the database (a killed
sender's claim expires); a certificate generation or a targeted message whose job died —
its work horse or worker killed, or Redis lost it — is asked for again (jobs.recovery
tells the jobs on their way from the dead ones); a daily job is asked for again every
10 minutes until it has finished that day."""

import logging
import time
from datetime import timedelta

from rq import get_current_job
from rq.utils import import_attribute
from sqlmodel import select

from app.clock import today, utcnow
from app.models import OutboxEmail
from app.models.messaging import MailStatus
from app.queue import get_queue, redis_connection
from jobs import certificates, imports, messages, recovery

log = logging.getLogger("forprev.scheduler")

# dotted job names run once a day (filled as modules arrive: purge, alerts…)
DAILY_JOBS: list[str] = ["jobs.purge.purge_expired", "jobs.alerts.raise_daily_alerts"]
RUN_DAILY = "jobs.scheduler.run_daily"
ASK_AGAIN = timedelta(minutes=10)


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
    recovery.reap_abandoned(queue)
    with app.app_context():
        enqueued += certificates.recover_stopped(db, queue, redis)
    enqueued += messages.recover_unmailed(db, queue, redis)
    # an import whose job died is failed (its transaction never committed) and offered again
    imports.recover_stopped(db, queue)
    enqueued += _daily_jobs(queue, redis)
    return enqueued


def _daily_jobs(queue, redis) -> list[str]:
    """Each daily job until it has finished today: asked for at most every 10 minutes, and
    not while a run of it is on its way."""
    day = today().isoformat()
    names, running = [], None
    for job_name in DAILY_JOBS:
        if redis.exists(_done_key(day, job_name)):
            continue
        if running is None:
            running = recovery.args_on_their_way(queue, RUN_DAILY)
        if (job_name, day) in running:
            continue
        if redis.set(f"forprev:daily:{day}:{job_name}", "1", nx=True, ex=ASK_AGAIN):
            queue.enqueue(RUN_DAILY, job_name, day)
            names.append(job_name)
    return names


def run_daily(job_name: str, day: str):
    """Run a daily job; once it has finished, the scheduler stops asking for it that day."""
    result = import_attribute(job_name)()
    get_current_job().connection.set(_done_key(day, job_name), "1", ex=timedelta(days=2))
    return result


def _done_key(day: str, job_name: str) -> str:
    return f"forprev:daily-done:{day}:{job_name}"


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
