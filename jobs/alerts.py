"""The daily alerts (the single scheduler enqueues it once a day; safe to run again)."""

from app.domain.alerts import raise_alerts
from jobs.context import job_db


def raise_daily_alerts() -> dict[str, int]:
    with job_db() as (_app, db):
        raised = raise_alerts(db)
        db.commit()
        return raised
