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


def test_tick_sweeps_the_outbox_only_when_mail_is_due(app, db, redis_url, monkeypatch):
    monkeypatch.setattr(scheduler, "DAILY_JOBS", [])
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


def test_the_purge_is_a_daily_job():
    assert "jobs.purge.purge_expired" in scheduler.DAILY_JOBS


def test_sessions_closed_while_redis_was_away_are_asked_for_again(app, db, redis_url, monkeypatch):
    from app.clock import frozen, today
    from app.models import CertSession
    from app.models.cert_sessions import SessionState
    from tests import factories

    monkeypatch.setattr(scheduler, "DAILY_JOBS", [])
    manager = factories.person(db)
    org = factories.organization(db)
    closed = CertSession(
        organization_id=org.id,
        created_by_id=manager.id,
        state=SessionState.CLOSED,
        closed_at=utcnow(),
        end_date=today(),
    )
    db.add(closed)
    db.commit()
    assert scheduler.tick(app, db) == [], "just closed: its own job is on its way"
    with frozen(utcnow() + timedelta(minutes=3)):
        name = f"jobs.certificates.generate_certificates({closed.id})"
        assert scheduler.tick(app, db) == [name]
        assert scheduler.tick(app, db) == [], "not again within 10 minutes"
    assert [j.args for j in get_queue(redis_url).jobs] == [(closed.id,)]


def test_a_round_fails_an_import_whose_job_died(app, db, redis_url, monkeypatch):
    """The scheduler's round takes in the import sweep: a run "en cours" whose job no worker
    holds does not stay running for ever."""
    from app.domain.importing import runner
    from app.models import ImportRun

    monkeypatch.setattr(scheduler, "DAILY_JOBS", [])
    with app.app_context():
        stored = runner.store_import_file(db, "x.csv", [b"numero_forprev;nom\n"])
        lost = runner.create_run(
            db, kind="personnes", file_id=stored.id, dry_run=True, actor_id=None
        )
        lost.status, lost.created_at = "en_cours", utcnow() - timedelta(minutes=5)
        db.add(lost)
        db.commit()
        scheduler.tick(app, db)
    db.expire_all()
    assert db.get(ImportRun, lost.id).status == "echoue"
