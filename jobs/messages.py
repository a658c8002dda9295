"""E-mail a targeted message to its recipients who chose "Messages ciblés", in batches.
Run it again and nobody gets it twice: the outbox rows of the message are the record."""

from sqlmodel import select

from app.domain.mail import queue_email
from app.models import MessageReceipt, OutboxEmail, Person, TargetedMessage
from jobs.context import job_db

BATCH = 200


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
