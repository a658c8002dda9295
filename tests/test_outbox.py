"""The e-mail outbox: a mail is a row written with the change, sent once by a real
worker to a real SMTP server, retried with back-off when SMTP is down."""

from datetime import timedelta

from sqlmodel import Session, select

from app.clock import utcnow
from app.domain.mail import queue_email
from app.models import OutboxEmail
from app.models.messaging import MailStatus
from app.queue import get_queue
from jobs.mail import backoff, deliver_outbox
from tests.conftest import run_flask


def _write_mail(app, to="karine@example.fr", subject="Votre demande est validée") -> int:
    with app.app_context(), Session(app.extensions["forprev_engine"]) as db:
        row = queue_email(
            db,
            to=to,
            subject=subject,
            template="notification",
            context={
                "first_name": "Karine",
                "message": "Demande n° 12 validée",
                "link": "/habilitations/12",
            },
            category="notification",
        )
        db.commit()
        return row.id


def _mail(db, mail_id) -> OutboxEmail:
    db.expire_all()
    return db.get(OutboxEmail, mail_id)


def test_a_mail_is_sent_once_by_a_real_worker(app, db, smtp_server, database_url, redis_url):
    mail_id = _write_mail(app)
    assert get_queue(redis_url).count == 1, "the commit asks a worker to deliver"

    env = {
        "FORPREV_ENV": "test",
        "FORPREV_DATABASE_URL": database_url,
        "FORPREV_REDIS_URL": redis_url,
        "FORPREV_SMTP_HOST": "127.0.0.1",
        "FORPREV_SMTP_PORT": str(smtp_server.port),
    }
    result = run_flask("worker", "--burst", env=env)
    assert result.returncode == 0, result.stderr

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "karine@example.fr"
    assert message["Subject"] == "Votre demande est validée"
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Bonjour Karine,")
    assert "Demande n° 12 validée" in body
    assert "http://forprev.test/habilitations/12" in body
    row = _mail(db, mail_id)
    assert row.status == MailStatus.SENT
    assert message["Message-ID"] == row.message_id
    assert row.sent_at is not None

    # a second worker run, and a sweep, find nothing more to send
    get_queue(redis_url).enqueue("jobs.mail.deliver_outbox")
    assert run_flask("worker", "--burst", env=env).returncode == 0
    assert len(smtp_server.messages) == 1


def test_nothing_is_queued_when_the_change_is_rolled_back(app, db, redis_url):
    with app.app_context(), Session(app.extensions["forprev_engine"]) as other:
        queue_email(
            other,
            to="a@example.fr",
            subject="Jamais",
            template="notification",
            context={"message": "x", "link": "/"},
            category="notification",
        )
        other.rollback()
    assert db.exec(select(OutboxEmail)).all() == []
    assert get_queue(redis_url).count == 0


def test_smtp_down_retries_with_backoff_then_sends_exactly_once(app, db, smtp_server):
    mail_id = _write_mail(app)
    with app.app_context():  # SMTP_PORT is 1: nothing listens
        assert deliver_outbox() == {"sent": 0, "failed": 1}
    row = _mail(db, mail_id)
    assert row.status == MailStatus.PENDING
    assert row.attempts == 1
    assert "refused" in row.last_error.lower() or "errno" in row.last_error.lower()
    wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=25) < wait <= timedelta(seconds=30)

    with app.app_context():  # not due yet: no new attempt
        assert deliver_outbox() == {"sent": 0, "failed": 0}

    app.config["SMTP_PORT"] = smtp_server.port
    row.next_attempt_at = utcnow() - timedelta(seconds=1)  # the back-off has elapsed
    db.add(row)
    db.commit()
    with app.app_context():
        assert deliver_outbox() == {"sent": 1, "failed": 0}
        assert deliver_outbox() == {"sent": 0, "failed": 0}
    assert len(smtp_server.messages) == 1
    assert _mail(db, mail_id).status == MailStatus.SENT
    assert _mail(db, mail_id).attempts == 2


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20) == timedelta(hours=1)


def test_a_mail_gives_up_after_the_last_retry(app, db):
    app.config["MAIL_RETRY_MAX"] = 2
    mail_id = _write_mail(app)
    with app.app_context():
        deliver_outbox()
        row = _mail(db, mail_id)
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.add(row)
        db.commit()
        deliver_outbox()
    row = _mail(db, mail_id)
    assert row.status == MailStatus.FAILED
    assert row.attempts == 2


def test_a_mail_claimed_by_another_worker_is_not_sent_twice(app, db, smtp_server):
    app.config["SMTP_PORT"] = smtp_server.port
    mail_id = _write_mail(app)
    row = _mail(db, mail_id)
    row.status = MailStatus.SENDING
    row.claimed_until = utcnow() + timedelta(minutes=5)
    db.add(row)
    db.commit()
    with app.app_context():
        assert deliver_outbox() == {"sent": 0, "failed": 0}
    assert smtp_server.messages == []

    # that worker died: once its claim expires the mail goes, with the same Message-ID
    row = _mail(db, mail_id)
    row.claimed_until = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    with app.app_context():
        assert deliver_outbox() == {"sent": 1, "failed": 0}
    assert [m["Message-ID"] for m in smtp_server.messages] == [row.message_id]


def test_a_mail_that_cannot_be_built_fails_alone(app, db, smtp_server):
    """A subject with a line break (a message title taken before forms refused it) cannot
    become an e-mail header: that error is the mail's, counted and kept, the mails after it
    go in the same round, and it ends failed after the last attempt."""
    app.config["SMTP_PORT"] = smtp_server.port
    app.config["MAIL_RETRY_MAX"] = 2
    first = _write_mail(app, to="karine@example.fr", subject="Avant")
    poison = _write_mail(app, to="paul@example.fr", subject="Rappel\r\nBcc: tous@example.fr")
    last = _write_mail(app, to="julie@example.fr", subject="Après")
    with app.app_context():
        assert deliver_outbox() == {"sent": 2, "failed": 1}
    assert [m["To"] for m in smtp_server.messages] == ["karine@example.fr", "julie@example.fr"]
    assert [_mail(db, i).status for i in (first, last)] == [MailStatus.SENT, MailStatus.SENT]
    row = _mail(db, poison)
    assert (row.status, row.attempts, row.claimed_until) == (MailStatus.PENDING, 1, None)
    assert row.last_error.startswith("ValueError: ")
    assert "linefeed or carriage return" in row.last_error
    assert timedelta(seconds=25) < row.next_attempt_at - utcnow() <= timedelta(seconds=30)

    row.next_attempt_at = utcnow() - timedelta(seconds=1)  # the back-off has elapsed
    db.add(row)
    db.commit()
    with app.app_context():
        assert deliver_outbox() == {"sent": 0, "failed": 1}
        assert deliver_outbox() == {"sent": 0, "failed": 0}  # given up: never tried again
    row = _mail(db, poison)
    assert (row.status, row.attempts) == (MailStatus.FAILED, 2)
    assert "linefeed or carriage return" in row.last_error
    assert len(smtp_server.messages) == 2


def test_a_poison_mail_does_not_hold_up_a_real_worker(
    app, db, smtp_server, database_url, redis_url
):
    """The same through a real worker: its round goes on past the bad mail."""
    poison = _write_mail(app, to="paul@example.fr\nBcc: tous@example.fr")
    good = _write_mail(app, to="julie@example.fr")
    env = {
        "FORPREV_ENV": "test",
        "FORPREV_DATABASE_URL": database_url,
        "FORPREV_REDIS_URL": redis_url,
        "FORPREV_SMTP_HOST": "127.0.0.1",
        "FORPREV_SMTP_PORT": str(smtp_server.port),
    }
    result = run_flask("worker", "--burst", env=env)
    assert result.returncode == 0, result.stderr
    assert [m["To"] for m in smtp_server.messages] == ["julie@example.fr"]
    assert _mail(db, good).status == MailStatus.SENT
    row = _mail(db, poison)
    assert (row.status, row.attempts) == (MailStatus.PENDING, 1)
    assert row.last_error.startswith("ValueError: ")
