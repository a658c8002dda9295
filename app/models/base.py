"""Shared column helpers for every table."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.clock import utcnow

# named constraints, so later migrations can alter them on SQLite (batch mode) and PostgreSQL
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Table args of every table with a numeric id: an id is never given again, even after the
# row is deleted (SQLite reuses the highest id unless the table says AUTOINCREMENT;
# PostgreSQL's sequences never go back). A purged session's number, shown to users and
# named by the audit trail, must not come back as another entity's session.
KEEP_IDS = {"sqlite_autoincrement": True}


def created_at_field() -> datetime:
    return Field(default_factory=utcnow, nullable=False)


def fk(target: str, *, index: bool = True, nullable: bool = False, ondelete: str | None = None):
    """A foreign key column; indexed by default since lists join and filter on them."""
    return Field(
        default=None, foreign_key=target, index=index, nullable=nullable, ondelete=ondelete
    )
