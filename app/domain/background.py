"""Start background work by the job's dotted name, only once the change is committed,
so a job never runs on uncommitted data and rules never import job code."""

import logging

from flask import current_app
from sqlalchemy import event
from sqlmodel import Session

log = logging.getLogger(__name__)

_KEY = "forprev_after_commit_jobs"


def enqueue_after_commit(db: Session, job_name: str, *args, **kwargs) -> None:
    pending = db.info.get(_KEY)
    if pending is None:
        pending = db.info[_KEY] = []
        event.listen(db, "after_commit", _enqueue_pending)
        event.listen(db, "after_rollback", _forget_pending)
    if (job_name, args, kwargs) not in pending:
        pending.append((job_name, args, kwargs))


def _enqueue_pending(db: Session) -> None:
    from app.queue import get_queue

    pending, db.info[_KEY] = db.info.get(_KEY, []), []
    for job_name, args, kwargs in pending:
        try:
            get_queue(current_app.config["REDIS_URL"]).enqueue(job_name, *args, **kwargs)
        except Exception as exc:  # Redis down: the scheduler's sweep picks the work up later
            log.warning("Mise en file impossible de %s : %s", job_name, exc)


def _forget_pending(db: Session) -> None:
    db.info[_KEY] = []
