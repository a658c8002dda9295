"""Deliver the e-mail outbox by SMTP.

Each mail is claimed with a conditional UPDATE (works the same on SQLite and PostgreSQL),
so two workers never send the same mail. A failure — SMTP down, or a mail that cannot be
built or sent at all — counts as an attempt with its error kept, and puts the mail back
with an exponential back-off until the last attempt marks it failed: one bad mail never
stops the others. A worker killed between sending and marking leaves the claim to expire;
the mail is then sent again with the same Message-ID (at-least-once: a mail is never lost).
"""

import logging
import smtplib
from datetime import timedelta
from email import headerregistry, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate

from rq.timeouts import JobTimeoutException
from sqlalchemy import and_, or_, update
from sqlmodel import select

from app.clock import utcnow
from app.domain.storage import get_storage
from app.models import OutboxEmail, StoredFile
from app.models.messaging import MailStatus
from jobs.context import job_db

log = logging.getLogger("forprev.mail")

CLAIM = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)


def _due(now):
    return or_(
        and_(OutboxEmail.status == MailStatus.PENDING, OutboxEmail.next_attempt_at <= now),
        and_(OutboxEmail.status == MailStatus.SENDING, OutboxEmail.claimed_until < now),
    )


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)


class _FreeText(headerregistry.UnstructuredHeader):
    """A free-text header (the Subject), folded by the standard library's `email.header`
    at a space, its first word kept on the "Subject:" line. The newer folder behind
    `policy.default` fails two ways: it drops the space between two encoded words when it
    wraps a long accented subject ("prêtsà télécharger"; CPython gh-144156, fixed only in
    2026 releases), and it moves a plain subject too long for "Subject: " but short enough
    for a line of its own (70 to 77 characters) whole onto the next line, after a bare
    "Subject:", which readers such as Python 3.11's parser (gh-124452) unfold with a leading
    space. Plain text stays plain; accented text, a tab, or a word too long for a line goes
    into RFC 2047 encoded words, which may be cut anywhere."""

    def fold(self, *, policy):
        text = str(self)
        limit = policy.max_line_length or 0  # 0: no limit
        room = limit - len(self.name) - 2  # what "Subject: " leaves on its line
        plain = (
            text.isascii()
            and "\t" not in text  # cut at spaces only: a tab is kept in an encoded word
            and (not limit or all(len(word) <= room for word in text.split()))
        )
        value = Header(text, "us-ascii" if plain else "utf-8", limit, header_name=self.name)
        # (cutting also after ";" and ",", as by default, left plain lines too long)
        folded = value.encode(splitchars=" ", linesep=policy.linesep)
        return f"{self.name}: {folded}{policy.linesep}"


_headers = headerregistry.HeaderRegistry()
_headers.map_to_type("subject", _FreeText)
# every header is built and folded by the standard library (lines of 78; smtplib sends
# them with CRLF)
MAIL_POLICY = policy.default.clone(header_factory=_headers)


def build_message(
    app, mail: OutboxEmail, attachment: StoredFile | None = None, data: bytes = b""
) -> EmailMessage:
    """The e-mail of an outbox row, with its stored file attached (`attachment` and its
    bytes); raises on a row no e-mail can carry (a line break in a header)."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = app.config["MAIL_FROM"]
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    msg["Message-ID"] = mail.message_id
    msg["Date"] = formatdate(localtime=False)
    msg.set_content(mail.text_body)
    if mail.html_body:
        msg.add_alternative(mail.html_body, subtype="html")
    if attachment is not None:
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment.name)
    return msg


def _attachment(app, db, mail: OutboxEmail) -> tuple[StoredFile | None, bytes]:
    """The stored file a mail carries, read whole (a decision letter: a few tens of kB);
    a file gone missing is this mail's error, counted as an attempt."""
    if mail.attachment_file_id is None:
        return None, b""
    stored = db.get(StoredFile, mail.attachment_file_id)
    if stored is None or not stored.complete:
        raise LookupError(f"pièce jointe {mail.attachment_file_id} introuvable")
    return stored, get_storage(app.config["STORAGE"]).read(db, stored.id)


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
                    message = build_message(app, mail, *_attachment(app, db, mail))
                    if smtp is None:
                        smtp = _connect(app)
                    smtp.send_message(message)
                except JobTimeoutException:
                    raise  # the round ran out of time: the claim expires, the mail waits
                except Exception as exc:  # this mail's error, whatever it is: kept on it
                    if smtp is not None:
                        _quietly_close(smtp)  # its state is unknown: the next one reconnects
                    smtp = None
                    _count_failure(app, mail, exc)
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


def _count_failure(app, mail: OutboxEmail, exc: Exception) -> None:
    """One attempt more, the error kept; back to the queue after a back-off, or failed for
    good after the last attempt."""
    mail.attempts += 1
    mail.last_error = f"{type(exc).__name__}: {exc}"[:500]
    mail.claimed_until = None
    if mail.attempts >= app.config["MAIL_RETRY_MAX"]:
        mail.status = MailStatus.FAILED
    else:
        mail.status = MailStatus.PENDING
        mail.next_attempt_at = utcnow() + backoff(mail.attempts)
    smtp_trouble = isinstance(exc, smtplib.SMTPException | OSError)
    log.log(
        logging.WARNING if smtp_trouble else logging.ERROR,
        "Courriel %s non envoyé (tentative %s, %s) : %s",
        mail.id,
        mail.attempts,
        mail.status,
        mail.last_error,
        exc_info=None if smtp_trouble else exc,
    )


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
