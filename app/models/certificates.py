"""Issued certificates, certificate bundles and numbering sequences."""

from datetime import date, datetime

from sqlmodel import Field, Index, SQLModel, UniqueConstraint

from app.models.base import KEEP_IDS, created_at_field, fk


class Certificate(SQLModel, table=True):
    """An issued certificate. After the purge only anonymous verification data remains
    (initials, birth year), plus the holder link for trainer certificates."""

    # one certificate per trainee, even if two workers run the same generation
    __table_args__ = (
        Index("uq_certificate_trainee", "trainee_id", unique=True),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    verification_code: str = Field(max_length=64, unique=True)
    cert_session_id: int | None = fk("certsession.id", nullable=True, ondelete="SET NULL")
    trainee_id: int | None = fk("trainee.id", nullable=True, ondelete="SET NULL")
    person_id: int | None = fk("person.id", nullable=True)
    certificate_model_id: int = fk("certificatemodel.id", index=False)
    scheme_level_id: int = fk("schemelevel.id", index=False)
    organization_id: int | None = fk("organization.id", nullable=True, index=False)
    holder_initials: str = Field(max_length=10)
    holder_birth_year: int
    session_end_date: date
    valid_until: date = Field(index=True)
    issued_at: datetime = created_at_field()
    file_id: int | None = fk("storedfile.id", nullable=True, index=False)


class Bundle(SQLModel, table=True):
    """The 15-day download of a closed session's certificates."""

    __table_args__ = (
        Index("uq_bundle_cert_session", "cert_session_id", unique=True),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    cert_session_id: int | None = fk("certsession.id", nullable=True, ondelete="SET NULL")
    status: str = Field(default="en_attente", max_length=20)
    done: int = 0
    total: int = 0
    zip_file_id: int | None = fk("storedfile.id", nullable=True, index=False)
    pdf_file_id: int | None = fk("storedfile.id", nullable=True, index=False)
    job_id: str | None = Field(default=None, max_length=64)
    error: str | None = None
    # times a stopped generation was taken up again without anyone asking (jobs.certificates)
    resumes: int = 0
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(index=True)


class NumberSequence(SQLModel, table=True):
    """Counters for sequential numbers (certificates per year, entity codes)."""

    __table_args__ = (
        UniqueConstraint("name", "year"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40)
    year: int = 0
    value: int = 0
