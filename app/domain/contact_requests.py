"""Contact requests to the support team ("Demandes d'assistance", SPEC §9).

A request is stored with its reference (AS-2026-000123), mailed through the outbox to
every active administrator (the support team) and acknowledged to its sender with that
reference. An administrator answers it — the answer goes to the sender by e-mail and, when
they have an account, to their dashboard — or closes it. Requests are throttled per client
address and per account, and deleted by the daily purge a year after they were sent
(app/domain/purge.py)."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, select

from app.clock import to_paris, utcnow
from app.domain import throttle
from app.domain.audit import record_event
from app.domain.errors import ConflictError, DomainError
from app.domain.mail import queue_email
from app.domain.notifications import close_links_to, close_tasks
from app.models import AuditEvent, ContactRequest, Notification, Person, RoleGrant
from app.models.people import Role

SUBJECTS = (
    "Mon compte",
    "Mon entité",
    "Habilitation",
    "Sessions de certification",
    "Certificats",
    "Autre",
)
MESSAGE_MAX = 5000

OPEN, ANSWERED, CLOSED = "ouverte", "repondue", "fermee"
STATUS_LABELS = {OPEN: "Ouverte", ANSWERED: "Répondue", CLOSED: "Fermée"}

# a person writes to support a few times a day at most; a robot far more
CONTACT_PER_ADDRESS = throttle.Limit("contact-address", 5, 60 * 60)
CONTACT_PER_ACCOUNT = throttle.Limit("contact-account", 5, 60 * 60)

OBJECT_TYPE = "contact_request"


def link_to(contact_request: ContactRequest) -> str:
    return f"/aide/demandes/{contact_request.id}"  # help.request_detail


def give_reference(db: Session, row: ContactRequest) -> None:
    """AS-<year it was sent, in Paris>-<its number on 6 digits>: unique as the id is."""
    db.add(row)
    db.flush()
    row.reference = f"AS-{to_paris(row.created_at).year}-{row.id:06d}"
    db.add(row)


def check_allowance(*, address: str, person_id: int | None) -> None:
    """Raise throttle.Throttled when this address or account has sent too many requests."""
    throttle.check(CONTACT_PER_ADDRESS, address)
    if person_id is not None:
        throttle.check(CONTACT_PER_ACCOUNT, str(person_id))


def _support_addresses(db: Session) -> list[str]:
    """Every active administrator: they are the support team."""
    return list(
        db.exec(
            select(Person.email)
            .join(RoleGrant, RoleGrant.person_id == Person.id)
            .where(
                RoleGrant.role == Role.ADMINISTRATEUR,
                RoleGrant.active.is_(True),
                Person.active.is_(True),
            )
            .distinct()
            .order_by(Person.email)
        ).all()
    )


def send_request(
    db: Session,
    *,
    email: str,
    subject: str,
    message: str,
    person_id: int | None,
    address: str,
) -> ContactRequest:
    """Store a request, mail it to support and acknowledge it to the sender (the caller
    commits). Throttled per address and per account."""
    if subject not in SUBJECTS:
        raise DomainError("Choisissez le sujet de votre demande dans la liste.", "subject")
    message = message.strip()
    if not message:
        raise DomainError("Écrivez votre message.", "message")
    if len(message) > MESSAGE_MAX:
        raise DomainError(too_long(), "message")
    check_allowance(address=address, person_id=person_id)
    row = ContactRequest(person_id=person_id, email=email.strip(), subject=subject, message=message)
    give_reference(db, row)
    record_event(
        db,
        actor_id=person_id,
        action="contact_request.sent",
        object_type=OBJECT_TYPE,
        object_id=row.id,
        to_state=OPEN,
        data={"reference": row.reference},
    )
    sender = db.get(Person, person_id) if person_id else None
    for to in _support_addresses(db):
        queue_email(
            db,
            to=to,
            subject=f"Demande d'assistance {row.reference} : {subject}",
            template="contact_support",
            context={"request": row, "sender": sender, "link": link_to(row)},
            category="contact",
        )
    queue_email(
        db,
        to=row.email,
        subject=f"Forprev : votre demande d'assistance {row.reference} est bien reçue",
        template="contact_receipt",
        context={"request": row, "person": sender},
        category="contact",
        person_id=person_id,
    )
    throttle.hit(CONTACT_PER_ADDRESS, address)
    if person_id is not None:
        throttle.hit(CONTACT_PER_ACCOUNT, str(person_id))
    return row


def too_long(noun: str = "message") -> str:
    return f"Votre {noun} ne doit pas dépasser {MESSAGE_MAX:,} caractères.".replace(",", " ")


@dataclass(frozen=True)
class RequestFilters:
    status: str = ""

    @classmethod
    def parse(cls, args) -> "RequestFilters":
        status = args.get("etat", "")
        return cls(status=status if status in STATUS_LABELS else "")

    def args(self) -> dict:
        return {"etat": self.status} if self.status else {}


def list_statement(filters: RequestFilters):
    """The requests, newest first, of the chosen state (all when none)."""
    query = select(ContactRequest)
    if filters.status:
        query = query.where(ContactRequest.status == filters.status)
    return query.order_by(ContactRequest.created_at.desc(), ContactRequest.id.desc())


def answer_request(
    db: Session, contact_request: ContactRequest, *, answer: str, actor_id: int
) -> ContactRequest:
    """Answer an open request: the sender gets it by e-mail and, with an account, on their
    dashboard. Someone else's answer or a closing meanwhile: ConflictError."""
    answer = (answer or "").strip()
    if not answer:
        raise DomainError("Écrivez votre réponse.", "answer")
    if len(answer) > MESSAGE_MAX:
        raise DomainError(too_long("réponse"), "answer")
    now = utcnow()
    # only from "ouverte", in one statement: two administrators answering at once give
    # one answer and one conflict
    changed = db.exec(
        update(ContactRequest)
        .where(ContactRequest.id == contact_request.id, ContactRequest.status == OPEN)
        .values(status=ANSWERED, answer=answer, answered_at=now, answered_by_id=actor_id)
    ).rowcount
    if changed != 1:
        raise ConflictError(_already_handled(db, contact_request))
    db.refresh(contact_request)
    record_event(
        db,
        actor_id=actor_id,
        action="contact_request.answered",
        object_type=OBJECT_TYPE,
        object_id=contact_request.id,
        from_state=OPEN,
        to_state=ANSWERED,
    )
    sender = db.get(Person, contact_request.person_id) if contact_request.person_id else None
    queue_email(
        db,
        to=contact_request.email,
        subject=f"Forprev : réponse à votre demande d'assistance {contact_request.reference}",
        template="contact_answer",
        context={"request": contact_request, "person": sender},
        category="contact",
        person_id=contact_request.person_id,
    )
    if sender is not None and sender.active:
        # the e-mail above carries the answer: the task alone, without its own mail
        db.add(_answer_task(contact_request, sender.id))
    return contact_request


def _answer_task(contact_request: ContactRequest, person_id: int) -> Notification:
    return Notification(
        person_id=person_id,
        kind="contact_answer",
        title=f"Le support a répondu à votre demande d'assistance {contact_request.reference}",
        link=link_to(contact_request),
        object_type=OBJECT_TYPE,
        object_id=contact_request.id,
    )


def close_request(db: Session, contact_request: ContactRequest, *, actor_id: int) -> None:
    """Close an open or answered request; nothing more is done with it."""
    before = contact_request.status
    changed = db.exec(
        update(ContactRequest)
        .where(ContactRequest.id == contact_request.id, ContactRequest.status != CLOSED)
        .values(status=CLOSED, closed_at=utcnow())
    ).rowcount
    if changed != 1:
        raise ConflictError(_already_handled(db, contact_request))
    db.refresh(contact_request)
    record_event(
        db,
        actor_id=actor_id,
        action="contact_request.closed",
        object_type=OBJECT_TYPE,
        object_id=contact_request.id,
        from_state=before,
        to_state=CLOSED,
    )


def mark_read(db: Session, contact_request: ContactRequest, person_id: int) -> None:
    """The sender opened the answer: its task on their dashboard is done."""
    if contact_request.person_id == person_id and contact_request.status != OPEN:
        close_tasks(db, OBJECT_TYPE, contact_request.id)


def _already_handled(db: Session, contact_request: ContactRequest) -> str:
    db.refresh(contact_request)
    if contact_request.status == CLOSED:
        return "Cette demande vient d'être fermée par un autre administrateur."
    return "Cette demande a déjà reçu une réponse : rechargez la page pour la lire."


def purge_old_requests(db: Session, retention_days: int) -> int:
    """Delete the requests sent more than `retention_days` ago, with the dashboard tasks
    that lead to them; their history stays as who did what, tied to no request (the daily
    purge, jobs/purge.py). Returns how many; a second run the same day finds none."""
    cutoff = utcnow() - timedelta(days=retention_days)
    old = db.exec(select(ContactRequest.id).where(ContactRequest.created_at < cutoff)).all()
    for request_id in old:
        close_links_to(db, f"/aide/demandes/{request_id}")  # link_to
    if old:
        db.exec(
            update(AuditEvent)
            .where(AuditEvent.object_type == OBJECT_TYPE, AuditEvent.object_id.in_(old))
            .values(object_id=None, comment=None, data={})
        )
        db.exec(delete(ContactRequest).where(ContactRequest.id.in_(old)))
    return len(old)
