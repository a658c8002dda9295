"""Help: FAQ entries, the manual of each role and contact requests to the support team."""

from datetime import datetime

from sqlmodel import Column, Field, Index, SQLModel, Text

from app.clock import utcnow
from app.models.base import KEEP_IDS, created_at_field, fk

# the roles that have a manual, in the order the help index offers them
MANUAL_ROLES = (
    "demandeur",
    "gestionnaire",
    "delegataire",
    "formateur",
    "instructeur",
    "administrateur",
)

# the states of a contact request
CONTACT_STATUSES = ("ouverte", "repondue", "fermee")


class FaqEntry(SQLModel, table=True):
    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    module: str = Field(max_length=40, index=True)
    question: str = Field(max_length=300)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    position: int = 0
    # question + answer lower-cased, accents removed, one space between words: the search
    # compares the same normalised text on SQLite and PostgreSQL (app/domain/help_content.py)
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Manual(SQLModel, table=True):
    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=30, unique=True)
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))  # Markdown
    updated_at: datetime = created_at_field()
    updated_by_id: int | None = fk("person.id", nullable=True, index=False, ondelete="SET NULL")


class ContactRequest(SQLModel, table=True):
    __table_args__ = (
        Index("ix_contactrequest_status_created", "status", "created_at"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str | None = Field(default=None, max_length=20, unique=True)  # AS-2026-000123
    person_id: int | None = fk("person.id", nullable=True, ondelete="SET NULL")
    email: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    message: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="ouverte", max_length=20)  # CONTACT_STATUSES
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_at: datetime | None = None
    answered_by_id: int | None = fk("person.id", nullable=True, index=False, ondelete="SET NULL")
    closed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, nullable=False, index=True)  # 1-year purge
