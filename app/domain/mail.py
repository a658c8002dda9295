"""E-mails go through the outbox: a row written in the same transaction as the change,
sent later by a worker (jobs.mail), retried with back-off, never lost."""

from email.utils import make_msgid

from flask import current_app, render_template
from sqlmodel import Session

from app.domain.background import enqueue_after_commit
from app.models import OutboxEmail, Person

# the choice of "Mon compte" each category of mail follows
OPT_IN = {"alert": "notify_alerts", "notification": "notify_notifications"}


SUBJECT_MAX = 300  # what the outbox's subject column holds; the whole text is in the body


def short_subject(subject: str) -> str:
    """`subject` cut at a word before SUBJECT_MAX characters, with "…" when cut (a message
    quoting a long comment made a subject the outbox column could not hold). Nothing else
    is changed: a line break left in is the delivery's to refuse, counted as an attempt."""
    if len(subject) <= SUBJECT_MAX:
        return subject
    cut = subject[: SUBJECT_MAX - 1].rsplit(" ", 1)[0].rstrip(" :,;.")
    return cut + "…"


def queue_email(
    db: Session,
    *,
    to: str,
    subject: str,
    template: str,
    context: dict,
    category: str,
    person_id: int | None = None,
    attachment_file_id: int | None = None,
) -> OutboxEmail:
    """Render `emails/<template>.txt` and `.html` and write the outbox row; a stored file
    (`attachment_file_id`, a PDF) goes with the mail, read when it is delivered.

    Nothing is sent until the caller commits; then a worker is asked to deliver it."""
    subject = short_subject(subject)
    base = {"base_url": current_app.config["BASE_URL"], "subject": subject}
    text = render_template(f"emails/{template}.txt", **base, **context)
    html = render_template(f"emails/{template}.html", **base, **context)
    domain = current_app.config["MAIL_FROM"].rsplit("@", 1)[-1].strip(">")
    row = OutboxEmail(
        message_id=make_msgid(domain=domain),
        to_address=to,
        subject=subject,
        text_body=text,
        html_body=html,
        category=category,
        person_id=person_id,
        attachment_file_id=attachment_file_id,
    )
    db.add(row)
    enqueue_after_commit(db, "jobs.mail.deliver_outbox")
    return row


def mail_if_opted_in(
    db: Session, person: Person | None, *, category: str, message: str, link: str
) -> bool:
    """The short mail of an alert or a task, to an active person who chose that category."""
    if person is None or not person.active or not getattr(person, OPT_IN[category]):
        return False
    queue_email(
        db,
        to=person.email,
        subject=f"Forprev : {message}",
        template="notification",
        context={"first_name": person.first_name, "message": message, "link": link},
        category=category,
        person_id=person.id,
    )
    return True
