"""Deliver the e-mail outbox by SMTP.

Each mail is claimed with a conditional UPDATE (works the same on SQLite and PostgreSQL),
so two workers never send the same mail. A failure puts it back with an exponential
back-off. A worker killed between sending and marking leaves the claim to expire; the mail
is then sent again with the same Message-ID (at-least-once: a mail is never lost).
"""

import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate

from sqlalchemy import and_, or_, update
from sqlmodel import select

from app.clock import utcnow
from app.models import OutboxEmail
from app.models.messaging import MailStatus
from jobs.context import job_db

CLAIM = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)


def _due(now):
    return or_(
        and_(OutboxEmail.status == MailStatus.PENDING, OutboxEmail.next_attempt_at <= now),
        and_(OutboxEmail.status == MailStatus.SENDING, OutboxEmail.claimed_until < now),
    )


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)


def _message(app, mail: OutboxEmail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = app.config["MAIL_FROM"]
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    msg["Message-ID"] = mail.message_id
    msg["Date"] = formatdate(localtime=False)
    msg.set_content(mail.text_body)
    if mail.html_body:
        msg.add_alternative(mail.html_body, subtype="html")
    return msg


def _connect(app) -> smtplib.SMTP:
    smtp = smtplib.SMTP(
        app.config["SMTP_HOST"], app.config["SMTP_PORT"], timeout=app.config["SMTP_TIMEOUT"]
    )
    if app.config["SMTP_STARTTLS"]:
        smtp.starttls()
    if app.config["SMTP_USER"]:
        smtp.login(app.config["SMTP_USER"], app.config["SMTP_PASSWORD"])
    return smtp


def deliver_outbox(limit: int = 100) -> dict:
    """Send every due mail (up to `limit`); returns counts, for logs and tests."""
    sent = failed = 0
    with job_db() as (app, db):
        now = utcnow()
        ids = db.exec(
            select(OutboxEmail.id).where(_due(now)).order_by(OutboxEmail.id).limit(limit)
        ).all()
        smtp = None
        try:
            for mail_id in ids:
                now = utcnow()
                claimed = db.exec(
                    update(OutboxEmail)
                    .where(OutboxEmail.id == mail_id, _due(now))
                    .values(status=MailStatus.SENDING, claimed_until=now + CLAIM)
                ).rowcount
                db.commit()
                if not claimed:
                    continue  # another worker took it
                mail = db.get(OutboxEmail, mail_id)
                try:
                    if smtp is None:
                        smtp = _connect(app)
                    smtp.send_message(_message(app, mail))
                except (smtplib.SMTPException, OSError) as exc:
                    if smtp is not None:
                        _quietly_close(smtp)
                    smtp = None
                    mail.attempts += 1
                    mail.last_error = str(exc)[:500]
                    mail.claimed_until = None
                    if mail.attempts >= app.config["MAIL_RETRY_MAX"]:
                        mail.status = MailStatus.FAILED
                    else:
                        mail.status = MailStatus.PENDING
                        mail.next_attempt_at = utcnow() + backoff(mail.attempts)
                    failed += 1
                else:
                    mail.status = MailStatus.SENT
                    mail.sent_at = utcnow()
                    mail.claimed_until = None
                    mail.attempts += 1
                    sent += 1
                db.add(mail)
                db.commit()
        finally:
            if smtp is not None:
                _quietly_close(smtp)
    return {"sent": sent, "failed": failed}


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
