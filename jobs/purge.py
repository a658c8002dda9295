"""The daily purge (the single scheduler enqueues it; `flask purge` runs it by hand)."""

from app.domain.contact_requests import purge_old_requests
from app.domain.purge import purge_due
from jobs.context import job_db


def purge_expired() -> int:
    total = 0
    with job_db() as (app, db):
        purge_old_requests(db, app.config["CONTACT_RETENTION_DAYS"])
        db.commit()
        while True:
            purged = purge_due(db, app.config["STORAGE"])
            total += purged
            if purged == 0:
                return total
