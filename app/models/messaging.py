"""Tasks (notifications), alerts, targeted messages and the e-mail outbox."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import JSON, Column, Field, Index, SQLModel, Text, UniqueConstraint

from app.models.base import KEEP_IDS, created_at_field, fk


class Notification(SQLModel, table=True):
    """A task for a person in one of their roles; done when the task is done."""

    __table_args__ = (
        Index("ix_notification_person_done", "person_id", "done_at"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = fk("person.id", index=False, ondelete="CASCADE")
    role_grant_id: int | None = fk("rolegrant.id", nullable=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    title: str = Field(max_length=300)
    link: str = Field(max_length=300)
    object_type: str | None = Field(default=None, max_length=40)
    object_id: int | None = None
    created_at: datetime = created_at_field()
    read_at: datetime | None = None
    done_at: datetime | None = None


class Alert(SQLModel, table=True):
    """A deadline reminder; `key` makes the daily run safe to repeat."""

    __table_args__ = (
        UniqueConstraint("person_id", "key"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = fk("person.id", index=False, ondelete="CASCADE")
    key: str = Field(max_length=120)
    kind: str = Field(max_length=40)
    message: str = Field(max_length=500)
    link: str | None = Field(default=None, max_length=300)
    created_at: datetime = created_at_field()
    read_at: datetime | None = None


class TargetedMessage(SQLModel, table=True):
    # the messages' list, newest first, national or per caisse
    __table_args__ = (
        Index("ix_targetedmessage_created", "created_at"),
        Index("ix_targetedmessage_fund_created", "fund_id", "created_at"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = fk("person.id")
    fund_id: int | None = fk("fund.id", index=False, nullable=True)  # None: national
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    audience: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    display_from: datetime = Field(index=True)
    display_until: datetime | None = None
    created_at: datetime = created_at_field()
    sent_at: datetime | None = None
    # every recipient's e-mail is in the outbox (jobs.messages); until then the scheduler
    # asks for the job again
    mailed_at: datetime | None = None


class MessageReceipt(SQLModel, table=True):
    """A message as one person receives it. The display window is copied from the message
    so a person's messages and unread count are read from their receipts alone, however
    many messages were ever sent."""

    __table_args__ = (
        UniqueConstraint("message_id", "person_id"),
        Index("ix_messagereceipt_person_read_display", "person_id", "read_at", "display_from"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = fk("targetedmessage.id", index=False, ondelete="CASCADE")
    person_id: int = fk("person.id", index=False, ondelete="CASCADE")
    display_from: datetime
    display_until: datetime | None = None
    created_at: datetime = created_at_field()
    read_at: datetime | None = None


class MailStatus(StrEnum):
    PENDING = "en_attente"
    SENDING = "envoi"
    SENT = "envoye"
    FAILED = "echec"


class OutboxEmail(SQLModel, table=True):
    """An e-mail written in the same transaction as the change that causes it."""

    __table_args__ = (
        Index("ix_outboxemail_status_next", "status", "next_attempt_at"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    # the Message-ID header: fixed at creation so a resend is recognisable as the same mail
    message_id: str = Field(max_length=200, unique=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str | None = Field(default=None, sa_column=Column(Text))
    category: str = Field(max_length=30)
    person_id: int | None = fk("person.id", nullable=True, ondelete="SET NULL")
    # a stored file sent with the mail (the CNH decision letter), read when it is delivered
    attachment_file_id: int | None = fk("storedfile.id", nullable=True, index=False)
    status: str = Field(default=MailStatus.PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = created_at_field()
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
    sent_at: datetime | None = None
