"""Audit trail and anonymous statistics."""

from datetime import datetime

from sqlmodel import JSON, Column, Field, Index, SQLModel, UniqueConstraint

from app.models.base import KEEP_IDS, created_at_field, fk


class AuditEvent(SQLModel, table=True):
    __table_args__ = (
        Index("ix_auditevent_object", "object_type", "object_id", "at"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    actor_id: int | None = fk("person.id", nullable=True, index=False, ondelete="SET NULL")
    action: str = Field(max_length=60)
    object_type: str = Field(max_length=40)
    object_id: int | None = None
    from_state: str | None = Field(default=None, max_length=40)
    to_state: str | None = Field(default=None, max_length=40)
    comment: str | None = None
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class StatCounter(SQLModel, table=True):
    """Anonymous counts of trainees certified and failed, and of sessions, per month of the
    session's end, place (department), dispositif, level, initial/MAC and entity. Fed once
    per session when it is closed (`CertSession.counted_at` marks it) and kept when the
    session's data is purged: the statistics are read from here only."""

    __table_args__ = (
        # every figure reads one entity's rows (or all entities', 0), of the whole years
        # (month 0) or of months
        UniqueConstraint(
            "organization_id",
            "month",
            "year",
            "department_code",
            "scheme_code",
            "level",
            "is_refresher",
            name="uq_statcounter_key",
        ),
        # a caisse's figures (its departments among all entities' counts, 0): each
        # department's rows read from the index alone on PostgreSQL
        Index(
            "ix_statcounter_org_department",
            "organization_id",
            "department_code",
            "month",
            "year",
            postgresql_include=[
                "scheme_code",
                "level",
                "is_refresher",
                "successes",
                "failures",
                "sessions",
            ],
        ),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    # 1–12; 0: the whole year (each session is counted under both), which is also what the
    # counts kept before months were counted are
    month: int = 0
    department_code: str = Field(max_length=3)
    scheme_code: str = Field(max_length=30)
    level: int
    is_refresher: bool = False
    # the entity that held the sessions (no foreign key: the count outlives the entity);
    # 0: all entities together (each session is counted under both), which is also what
    # the counts kept before entities were counted are
    organization_id: int = 0
    successes: int = 0
    failures: int = 0
    sessions: int = 0
