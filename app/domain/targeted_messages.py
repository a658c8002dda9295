"""Targeted messages (SPEC §8): written by an instructor for their region or by an
administrator nationally, to the people chosen by role, dispositif, level and caisse.

The audience is one SQL query (counted for the preview, inserted as receipts on send),
so a message to every SST trainer of the country costs two statements, not one per person.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, exists, func, insert, literal, or_, union
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain.background import enqueue_after_commit
from app.domain.errors import DomainError
from app.models import (
    Accreditation,
    Certificate,
    MessageReceipt,
    Organization,
    Person,
    RoleGrant,
    SchemeLevel,
    TargetedMessage,
)
from app.models.people import Role

AUDIENCE_ROLES = [Role.GESTIONNAIRE, Role.DELEGATAIRE, Role.FORMATEUR, Role.INSTRUCTEUR]


@dataclass
class Audience:
    roles: list[str] = field(default_factory=list)
    scheme_id: int | None = None
    level: int | None = None
    fund_id: int | None = None  # None: national

    def as_json(self) -> dict:
        return {
            "roles": self.roles,
            "scheme_id": self.scheme_id,
            "level": self.level,
            "fund_id": self.fund_id,
        }


def _levels(audience: Audience):
    query = select(SchemeLevel.id)
    if audience.scheme_id:
        query = query.where(SchemeLevel.scheme_id == audience.scheme_id)
    if audience.level:
        query = query.where(SchemeLevel.level == audience.level)
    return query


def audience_query(audience: Audience):
    """SELECT person_id of everyone the message reaches (active accounts only)."""
    day = today()
    parts = []
    narrowed = bool(audience.scheme_id or audience.level)
    for role in audience.roles:
        base = (
            select(RoleGrant.person_id.label("person_id"))
            .join(Person, Person.id == RoleGrant.person_id)
            .where(RoleGrant.role == role, RoleGrant.active.is_(True), Person.active.is_(True))
        )
        if role in (Role.GESTIONNAIRE, Role.DELEGATAIRE):
            base = base.join(Organization, Organization.id == RoleGrant.organization_id)
            if audience.fund_id:
                base = base.where(Organization.fund_id == audience.fund_id)
            if narrowed:
                base = base.where(
                    exists().where(
                        Accreditation.organization_id == Organization.id,
                        Accreditation.scheme_level_id.in_(_levels(audience)),
                        Accreditation.start_date <= day,
                        Accreditation.end_date >= day,
                    )
                )
        elif role == Role.FORMATEUR:
            if audience.fund_id:
                base = base.where(Person.trainer_fund_id == audience.fund_id)
            if narrowed:
                # "formateurs SST niveau 1": they hold a valid certificate to teach that level
                taught = _levels(Audience(scheme_id=audience.scheme_id))
                if audience.level:
                    taught = taught.where(SchemeLevel.level == audience.level + 1)
                else:
                    taught = taught.where(SchemeLevel.level >= 2)
                base = base.where(
                    exists().where(
                        Certificate.person_id == Person.id,
                        Certificate.scheme_level_id.in_(taught),
                        Certificate.valid_until >= day,
                    )
                )
        elif role == Role.INSTRUCTEUR:
            if audience.fund_id:
                base = base.where(RoleGrant.fund_id == audience.fund_id)
            if narrowed:
                continue  # instructors hold no dispositif
        else:
            continue
        parts.append(base)
    if not parts:
        return None
    # once per person: one may hold a role in several entities
    return union(*parts) if len(parts) > 1 else parts[0].distinct()


def count_audience(db: Session, audience: Audience) -> int:
    query = audience_query(audience)
    if query is None:
        return 0
    return db.exec(select(func.count()).select_from(query.subquery())).one()


def send_message(
    db: Session,
    *,
    author_id: int,
    title: str,
    body: str,
    audience: Audience,
    display_from: datetime,
    display_until: datetime | None,
) -> tuple[TargetedMessage, int]:
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise DomainError("Donnez un titre au message.", field="title")
    if len(title) > 200:
        raise DomainError("Le titre ne doit pas dépasser 200 caractères.", field="title")
    if not body:
        raise DomainError("Écrivez le texte du message.", field="body")
    if len(body) > 5000:
        raise DomainError("Le message ne doit pas dépasser 5000 caractères.", field="body")
    if not audience.roles:
        raise DomainError("Choisissez au moins un rôle destinataire.", field="roles")
    if display_until is not None and display_until < display_from:
        raise DomainError(
            "La fin d'affichage doit venir après le début d'affichage.", field="display_until"
        )
    query = audience_query(audience)
    reached = count_audience(db, audience)
    if query is None or reached == 0:
        raise DomainError("Aucune personne ne correspond à ces critères.", field="roles")
    message = TargetedMessage(
        author_id=author_id,
        fund_id=audience.fund_id,
        title=title,
        body=body,
        audience=audience.as_json(),
        display_from=display_from,
        display_until=display_until,
        sent_at=utcnow(),
    )
    db.add(message)
    db.flush()
    people = query.subquery()
    db.exec(
        insert(MessageReceipt).from_select(
            ["message_id", "person_id", "display_from", "display_until", "created_at"],
            select(
                literal(message.id),
                people.c.person_id,
                literal(display_from, MessageReceipt.__table__.c.display_from.type),
                literal(display_until, MessageReceipt.__table__.c.display_until.type),
                literal(utcnow(), MessageReceipt.__table__.c.created_at.type),
            ),
        )
    )
    enqueue_after_commit(db, "jobs.messages.mail_targeted_message", message.id)
    return message, reached


def _showing(now):
    """Receipts of messages in their display window (read from the receipt alone)."""
    return and_(
        MessageReceipt.display_from <= now,
        or_(MessageReceipt.display_until.is_(None), MessageReceipt.display_until >= now),
    )


def messages_for(db: Session, person_id: int, limit: int = 5):
    return db.exec(
        _messages_for_statement(limit),
        params={"person_id": person_id, "now": utcnow()},
    ).all()


@cache
def _messages_for_statement(limit: int):
    """On every dashboard: built once, only the person and the time change."""
    shown = (
        select(MessageReceipt)
        .where(MessageReceipt.person_id == bindparam("person_id"), _showing(bindparam("now")))
        .order_by(MessageReceipt.read_at.is_not(None), MessageReceipt.display_from.desc())
        .limit(limit)
        .subquery()
    )
    receipt = aliased(MessageReceipt, shown)
    return (
        select(TargetedMessage, receipt)
        .join(receipt, receipt.message_id == TargetedMessage.id)
        .order_by(receipt.read_at.is_not(None), receipt.display_from.desc())
    )


def unread_count_query(person_id, now=None):
    """Unread messages on display; `person_id` and `now` may be bind parameters."""
    return (
        select(func.count())
        .select_from(MessageReceipt)
        .where(
            MessageReceipt.person_id == person_id,
            MessageReceipt.read_at.is_(None),
            _showing(utcnow() if now is None else now),
        )
    )
