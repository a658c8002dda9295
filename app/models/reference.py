"""Reference data: regional funds, departments, schemes, levels, certificate models."""

from sqlmodel import Field, SQLModel, UniqueConstraint

from app.models.base import KEEP_IDS, fk


class Fund(SQLModel, table=True):
    """A caisse: CARSAT, CRAMIF, CGSS or CSS."""

    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=120)


class Department(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=3)
    fund_id: int = fk("fund.id")


class Scheme(SQLModel, table=True):
    """A dispositif (SST, PRAP-IBC, CATEC…)."""

    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True)
    name: str = Field(max_length=200)
    technical_requirements: bool = False
    active: bool = True


class SchemeLevel(SQLModel, table=True):
    """A dispositif at one level, with its session rules (defaults from the reference)."""

    __table_args__ = (
        UniqueConstraint("scheme_id", "level"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    scheme_id: int = fk("scheme.id")
    level: int
    programme_required: bool = True
    min_trainees: int = 1
    max_trainees: int = 15
    # above this count (and up to max_trainees) the session is accepted with a warning
    warn_above: int | None = None
    initial_hours: int | None = None
    mac_hours: int | None = None
    inrs_only: bool = False


class CertificateModel(SQLModel, table=True):
    """A "certificat à éditer" of a dispositif-level, with its validity."""

    __table_args__ = (
        UniqueConstraint("scheme_level_id", "name"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    scheme_level_id: int = fk("schemelevel.id")
    name: str = Field(max_length=200)
    validity_months: int
    active: bool = True
    # False for a qualification INRS gives outside Forprev's sessions ("formateur de
    # formateurs" of a dispositif without level 3): recorded by an administrator on the
    # trainer's account, never offered as a session's "certificat à éditer"
    issued_in_sessions: bool = True


class LevelQualification(SQLModel, table=True):
    """A certificate model that qualifies a trainer to run sessions of a dispositif-level
    (REFERENCE §2: the catalogue lists them, the administrator edits them; the trainer
    check reads them and keeps no list of its own)."""

    __table_args__ = (
        UniqueConstraint("scheme_level_id", "certificate_model_id"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    scheme_level_id: int = fk("schemelevel.id", index=False)
    certificate_model_id: int = fk("certificatemodel.id")


class DocumentRequirement(SQLModel, table=True):
    """A document an accreditation request of a dispositif-level asks for, on a tab
    (catalogue data: the views read these rows, no list is written in code)."""

    __table_args__ = (
        UniqueConstraint("scheme_level_id", "kind"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    scheme_level_id: int = fk("schemelevel.id", index=False)
    kind: str = Field(max_length=30)
    label: str = Field(max_length=200)
    help_text: str | None = Field(default=None, max_length=500)
    tab: str = Field(max_length=20)  # "pedagogique" or "technique"
    required: bool = True
    # several files (programmes) or one (the signed letter)
    multiple: bool = False
    position: int = 0
