"""Help: FAQ entries and contact requests to the support team."""

from datetime import datetime

from sqlmodel import Column, Field, SQLModel, Text

from app.models.base import KEEP_IDS, created_at_field, fk


class FaqEntry(SQLModel, table=True):
    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    module: str = Field(max_length=40, index=True)
    question: str = Field(max_length=300)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    position: int = 0


class ContactRequest(SQLModel, table=True):
    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    person_id: int | None = fk("person.id", nullable=True, ondelete="SET NULL")
    email: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    message: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = created_at_field()
