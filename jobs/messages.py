"""E-mail a targeted message to its recipients who chose "Messages ciblés", in batches.
Run it again and nobody gets it twice: the outbox rows of the message are the record.
Until the last batch is done (`mailed_at`), the scheduler asks for the job again should
it die (`recover_unmailed`)."""

from datetime import timedelta

from rq import Queue
from sqlmodel import Session, select

from app.clock import utcnow
from app.domain.mail import queue_email
from app.models import MessageReceipt, OutboxEmail, Person, TargetedMessage
from jobs import recovery
from jobs.context import job_db

BATCH = 200
MAIL_MESSAGE = "jobs.messages.mail_targeted_message"


def mail_targeted_message(message_id: int) -> int:
    category = f"message:{message_id}"
    sent = 0
    with job_db() as (_app, db):
        message = db.get(TargetedMessage, message_id)
        if message is None:
            return 0
        last_id = 0
        while True:
            rows = db.exec(
                select(MessageReceipt.id, Person)
                .join(Person, Person.id == MessageReceipt.person_id)
                .where(MessageReceipt.message_id == message_id, MessageReceipt.id > last_id)
                .order_by(MessageReceipt.id)
                .limit(BATCH)
            ).all()
            if not rows:
                message.mailed_at = utcnow()
                db.add(message)
                db.commit()
                return sent
            last_id = rows[-1][0]
            people = [p for _, p in rows if p.notify_messages and p.active]
            already = set(
                db.exec(
                    select(OutboxEmail.person_id).where(
                        OutboxEmail.category == category,
                        OutboxEmail.person_id.in_([p.id for p in people]),
                    )
                ).all()
            )
            for person in people:
                if person.id in already:
                    continue
                queue_email(
                    db,
                    to=person.email,
                    subject=f"Forprev : {message.title}",
                    template="notification",
                    context={"first_name": person.first_name, "message": message.body, "link": "/"},
                    category=category,
                    person_id=person.id,
                )
                sent += 1
            db.commit()


def recover_unmailed(db: Session, queue: Queue, redis, limit: int = 50) -> list[str]:
    """The scheduler's sweep: a message sent more than 2 minutes ago whose mailing is not
    finished nor on its way (its job died) is asked for again, at most every 10 minutes."""
    unmailed = db.exec(
        select(TargetedMessage.id)
        .where(
            TargetedMessage.mailed_at.is_(None),
            TargetedMessage.sent_at < utcnow() - timedelta(minutes=2),
        )
        .order_by(TargetedMessage.id)
        .limit(limit)
    ).all()
    if not unmailed:
        return []
    running = recovery.args_on_their_way(queue, MAIL_MESSAGE)
    asked = []
    for message_id in unmailed:
        if (message_id,) in running:
            continue
        if redis.set(f"forprev:messages:{message_id}", "1", nx=True, ex=600):
            queue.enqueue(MAIL_MESSAGE, message_id)
            asked.append(f"{MAIL_MESSAGE}({message_id})")
    return asked
