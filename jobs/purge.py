"""The daily purge (the single scheduler enqueues it; `flask purge` runs it by hand)."""

from app.domain.purge import purge_due
from jobs.context import job_db


def purge_expired() -> int:
    total = 0
    with job_db() as (app, db):
        while True:
            purged = purge_due(db, app.config["STORAGE"])
            total += purged
            if purged == 0:
                return total
