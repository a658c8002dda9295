"""Stored files, kept in the database in chunks so every machine shares them and
large files stream in and out without being held whole in memory."""

from datetime import datetime

from sqlmodel import Column, Field, LargeBinary, SQLModel, UniqueConstraint

from app.models.base import KEEP_IDS, created_at_field, fk


class StoredFile(SQLModel, table=True):
    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int = 0
    sha256: str | None = Field(default=None, max_length=64)
    complete: bool = False
    created_at: datetime = created_at_field()


class StoredFileChunk(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("file_id", "seq"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    file_id: int = fk("storedfile.id", index=False, ondelete="CASCADE")
    seq: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
