"""The scheduler asks for an outbox sweep when mail is due and enqueues each daily job
once a day, however many schedulers run."""

from datetime import timedelta

from app.clock import utcnow
from app.models import OutboxEmail
from app.queue import get_queue
from jobs import scheduler


def _mail(db, **values) -> OutboxEmail:
    row = OutboxEmail(
        message_id=f"<{utcnow().timestamp()}@forprev.test>",
        to_address="a@example.fr",
        subject="s",
        text_body="t",
        category="notification",
        **values,
    )
    db.add(row)
    db.commit()
    return row


def test_tick_sweeps_the_outbox_only_when_mail_is_due(app, db, redis_url):
    assert scheduler.tick(app, db) == []
    _mail(db, next_attempt_at=utcnow() + timedelta(minutes=5))
    assert scheduler.tick(app, db) == []
    _mail(db, next_attempt_at=utcnow() - timedelta(seconds=1))
    assert scheduler.tick(app, db) == ["jobs.mail.deliver_outbox"]
    assert [job.func_name for job in get_queue(redis_url).jobs] == ["jobs.mail.deliver_outbox"]


def test_daily_jobs_are_enqueued_once_a_day(app, db, redis_url, monkeypatch):
    monkeypatch.setattr(scheduler, "DAILY_JOBS", ["jobs.mail.deliver_outbox"])
    assert scheduler.tick(app, db) == ["jobs.mail.deliver_outbox"]
    assert scheduler.tick(app, db) == []  # a second tick, or a second scheduler
    assert get_queue(redis_url).count == 1
