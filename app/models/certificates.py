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


class Qualification(SQLModel, table=True):
    """A trainer's qualification obtained outside Forprev's sessions (level 3 by INRS, a
    certificate from before Forprev 2), recorded by an administrator or imported. It
    counts in the trainer check like an issued certificate and shows in "Mes certificats";
    the PDF is optional."""

    __table_args__ = (
        # natural key of the import: the same line imported twice changes nothing
        UniqueConstraint("person_id", "certificate_model_id", "valid_from"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = fk("person.id", index=False)
    certificate_model_id: int = fk("certificatemodel.id")
    valid_from: date
    valid_until: date
    file_id: int | None = fk("storedfile.id", nullable=True, index=False)
    # "manuel" (entered by an administrator) or "import"
    source: str = Field(default="manuel", max_length=10)
    note: str | None = Field(default=None, max_length=500)
    recorded_by_id: int | None = fk("person.id", nullable=True, index=False)
    created_at: datetime = created_at_field()


class ImportRun(SQLModel, table=True):
    """One CSV file brought in ("Import"): a dry run or the real one, run by a worker with
    its progress; the refused lines' report is a stored file."""

    __table_args__ = (
        Index("ix_importrun_created", "created_at"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    # entites, personnes, roles, habilitations, certificats
    kind: str = Field(max_length=20)
    dry_run: bool = True
    # en_attente, en_cours, termine, echoue
    status: str = Field(default="en_attente", max_length=20)
    file_id: int = fk("storedfile.id", index=False)
    report_file_id: int | None = fk("storedfile.id", nullable=True, index=False)
    total: int = 0
    done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    error: str | None = None
    job_id: str | None = Field(default=None, max_length=64)
    created_by_id: int | None = fk("person.id", nullable=True, index=False)
    created_at: datetime = created_at_field()
    finished_at: datetime | None = None


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
