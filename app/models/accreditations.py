"""Accreditation requests, accreditations, suspensions, platforms and delegations."""

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, Index, SQLModel, UniqueConstraint

from app.models.base import KEEP_IDS, created_at_field, fk


class RequestKind(StrEnum):
    INITIAL = "initiale"
    ADDITIONAL = "supplementaire"
    RENEWAL = "renouvellement"


class RequestPhase(StrEnum):
    """The 4-step progress bar, plus draft and the end states."""

    DRAFT = "brouillon"
    FILE_COMPLETE = "dossier_complet"  # 1 Dossier administratif complet
    PHASE_1 = "instruction_phase_1"  # 2 Instruction en cours phase 1
    PHASE_2 = "instruction_phase_2"  # 3 Instruction en cours phase 2
    CNH = "decision_cnh"  # 4 Décision CNH en cours
    FAVOURABLE = "favorable"
    UNFAVOURABLE = "defavorable"
    ABANDONED = "abandonnee"
    # "incomplet": back with the entity, which fixes and resubmits to `returned_from`
    RETURNED = "a_completer"


REQUEST_KIND_LABELS = {
    RequestKind.INITIAL: "Demande initiale",
    RequestKind.ADDITIONAL: "Demande complémentaire",
    RequestKind.RENEWAL: "Renouvellement",
}


REQUEST_PHASE_LABELS = {
    RequestPhase.DRAFT: "Brouillon",
    RequestPhase.FILE_COMPLETE: "Dossier administratif complet",
    RequestPhase.PHASE_1: "Instruction en cours phase 1",
    RequestPhase.PHASE_2: "Instruction en cours phase 2",
    RequestPhase.CNH: "Décision CNH en cours",
    RequestPhase.FAVOURABLE: "Décision favorable",
    RequestPhase.UNFAVOURABLE: "Décision défavorable",
    RequestPhase.ABANDONED: "Abandonnée",
    RequestPhase.RETURNED: "À compléter par l'entité",
}
# the phases in which a request is still running (neither decided nor abandoned)
OPEN_REQUEST_PHASES = (
    RequestPhase.DRAFT,
    RequestPhase.RETURNED,
    RequestPhase.FILE_COMPLETE,
    RequestPhase.PHASE_1,
    RequestPhase.PHASE_2,
    RequestPhase.CNH,
)


class AccreditationRequest(SQLModel, table=True):
    __table_args__ = (
        Index("ix_accreditationrequest_fund_phase", "fund_id", "phase"),
        Index("ix_accreditationrequest_org_phase", "organization_id", "phase"),
        # "Demandes à instruire" by date: a caisse's requests, and every caisse's, in the
        # queue's order (submission, then id), each page read from the index
        Index("ix_accreditationrequest_fund_submitted", "fund_id", "submitted_at", "id"),
        Index("ix_accreditationrequest_submitted", "submitted_at", "id"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = fk("organization.id")
    # chosen on the Pédagogique tab: a draft may not have it yet
    scheme_level_id: int | None = fk("schemelevel.id", nullable=True)
    fund_id: int = fk("fund.id", index=False)
    kind: str = Field(default=RequestKind.INITIAL, max_length=20)
    phase: str = Field(default=RequestPhase.DRAFT, max_length=30, index=True)
    # the accreditation being renewed; no FK constraint, which would make a cycle with
    # accreditation.request_id that SQLite migrations cannot create
    renewal_of_id: int | None = Field(default=None, index=True)
    mobile_platform: bool = False
    requester_comment: str | None = None
    created_by_id: int = fk("person.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    decision_comment: str | None = None
    # "incomplet": the instructor's comment, and the phase the resubmitted request goes back to
    return_comment: str | None = None
    returned_at: datetime | None = None
    returned_from: str | None = Field(default=None, max_length=30)
    # optimistic concurrency: every change names the version it read
    version: int = 1


class RequestDocument(SQLModel, table=True):
    """A file of a request: commitment letter, programme, déroulé, technical, complementary."""

    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = fk("accreditationrequest.id", ondelete="CASCADE")
    kind: str = Field(max_length=30)
    # the "Intitulé" of a complementary document
    label: str | None = Field(default=None, max_length=200)
    file_id: int = fk("storedfile.id", index=False)
    uploaded_by_id: int = fk("person.id", index=False)
    uploaded_at: datetime = created_at_field()


class Accreditation(SQLModel, table=True):
    __table_args__ = (
        Index("ix_accreditation_org_end", "organization_id", "end_date"),
        # the "Habilitations" lists' order: one page read from the index
        Index("ix_accreditation_end_id", "end_date", "id"),
        # their search by the start of a number (LIKE 'H67001%' on any PostgreSQL collation)
        Index(
            "ix_accreditation_number_prefix",
            "number",
            postgresql_ops={"number": "varchar_pattern_ops"},
        ),
        # REFERENCE §3: 00 for the first decision, +1 at each renewal; two decisions at once
        # never share a number
        UniqueConstraint("organization_id", "scheme_level_id", "sequence"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=60, unique=True)
    organization_id: int = fk("organization.id", index=False)
    scheme_level_id: int = fk("schemelevel.id")
    request_id: int | None = fk("accreditationrequest.id", nullable=True, index=False)
    sequence: int = 0
    start_date: date
    end_date: date
    mobile_platform: bool = False
    decision_letter_file_id: int | None = fk("storedfile.id", nullable=True, index=False)
    created_at: datetime = created_at_field()
    version: int = 1


class Suspension(SQLModel, table=True):
    """A period during which the accreditation is not valid."""

    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    accreditation_id: int = fk("accreditation.id", ondelete="CASCADE")
    start_date: date
    end_date: date
    reason: str = Field(max_length=500)
    created_by_id: int | None = fk("person.id", nullable=True, index=False)
    created_at: datetime = created_at_field()


class Platform(SQLModel, table=True):
    """A fixed pedagogical platform, declared in a request and kept on the accreditation."""

    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = fk("accreditationrequest.id", nullable=True)
    accreditation_id: int | None = fk("accreditation.id", nullable=True)
    name: str = Field(max_length=200)
    address: str = Field(max_length=250)
    postal_code: str = Field(max_length=5)
    city: str = Field(max_length=100)
    cnh_approved_on: date | None = None


class Equipment(SQLModel, table=True):
    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = fk("accreditationrequest.id", nullable=True)
    accreditation_id: int | None = fk("accreditation.id", nullable=True)
    label: str = Field(max_length=200)
    quantity: int = 1
    description: str | None = Field(default=None, max_length=500)


class Delegation(SQLModel, table=True):
    """An accreditation delegated to a délégataire of the entity."""

    __table_args__ = (
        UniqueConstraint("person_id", "accreditation_id"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = fk("person.id")
    accreditation_id: int = fk("accreditation.id")
    created_at: datetime = created_at_field()
    revoked_at: datetime | None = None
