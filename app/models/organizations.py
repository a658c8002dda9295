"""Entities (organisations) and their administrative changes awaiting the fund."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import event
from sqlmodel import JSON, Column, Field, Index, SQLModel

from app.models.base import KEEP_IDS, created_at_field, fk
from app.text import fold


class OrganizationKind(StrEnum):
    TRAINING = "organisme_formation"
    COMPANY = "entreprise"
    AUTHORITY = "collectivite"
    OTHER = "autre"


ORGANIZATION_KIND_LABELS = {
    OrganizationKind.TRAINING: "Organisme de formation",
    OrganizationKind.COMPANY: "Entreprise",
    OrganizationKind.AUTHORITY: "Collectivité",
    OrganizationKind.OTHER: "Autre",
}

# letter used in accreditation numbers
ORGANIZATION_KIND_LETTERS = {
    OrganizationKind.TRAINING: "O",
    OrganizationKind.COMPANY: "E",
    OrganizationKind.AUTHORITY: "C",
    OrganizationKind.OTHER: "A",
}


class OrganizationStatus(StrEnum):
    DRAFT = "brouillon"
    SUBMITTED = "en_validation"
    VALIDATED = "valide"
    REFUSED = "refuse"
    ABANDONED = "abandonne"
    RETURNED = "renvoyee"


ORGANIZATION_STATUS_LABELS = {
    OrganizationStatus.DRAFT: "Brouillon",
    OrganizationStatus.SUBMITTED: "Partie administrative en cours de validation",
    OrganizationStatus.VALIDATED: "Dossier administratif validé",
    OrganizationStatus.REFUSED: "Refusée",
    OrganizationStatus.ABANDONED: "Abandonnée",
    OrganizationStatus.RETURNED: "Renvoyée au demandeur",
}


class OrganizationChangeStatus(StrEnum):
    PENDING = "en_attente"
    ACCEPTED = "acceptee"
    REFUSED = "refusee"
    WITHDRAWN = "retiree"


ORGANIZATION_CHANGE_STATUS_LABELS = {
    OrganizationChangeStatus.PENDING: "En attente de validation",
    OrganizationChangeStatus.ACCEPTED: "Acceptée",
    OrganizationChangeStatus.REFUSED: "Refusée",
    OrganizationChangeStatus.WITHDRAWN: "Retirée",
}


class Organization(SQLModel, table=True):
    __table_args__ = (
        # the instructors' queue: one caisse's requests in a state, by submission date
        Index("ix_organization_fund_status_submitted", "fund_id", "status", "submitted_at"),
        # a caisse's entities (what its instructors see) read from the index alone
        Index("ix_organization_fund_id_id", "fund_id", "id"),
        # a search by any part of the name (the instructors' and the public lists): trigrams
        # on PostgreSQL (pg_trgm, migration 0008); a plain index on SQLite
        Index(
            "ix_organization_name_folded",
            "name_folded",
            postgresql_using="gin",
            postgresql_ops={"name_folded": "gin_trgm_ops"},
        ),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    # 5-digit entity code used in accreditation numbers, given at validation
    code: str | None = Field(default=None, max_length=5, unique=True)
    kind: str = Field(max_length=30)
    name: str = Field(max_length=200, index=True)
    # `fold(name)`, written with every name (see _fold_name below): searches compare it
    # without folding each row's name again
    name_folded: str = ""
    regime: str | None = Field(default=None, max_length=100)
    siret: str | None = Field(default=None, max_length=14, index=True)
    activity_number: str | None = Field(default=None, max_length=11)
    urssaf_file_id: int | None = fk("storedfile.id", nullable=True, index=False)
    urssaf_issued_on: datetime | None = None
    address: str | None = Field(default=None, max_length=250)
    postal_code: str | None = Field(default=None, max_length=5)
    city: str | None = Field(default=None, max_length=100)
    department_code: str | None = Field(default=None, max_length=3)
    fund_id: int | None = fk("fund.id", nullable=True, index=False)
    status: str = Field(default=OrganizationStatus.DRAFT, max_length=20, index=True)
    signatory_last_name: str | None = Field(default=None, max_length=100)
    signatory_first_name: str | None = Field(default=None, max_length=100)
    signatory_function: str | None = Field(default=None, max_length=100)
    public_listing: bool = False
    public_email: str | None = Field(default=None, max_length=254)
    public_phone: str | None = Field(default=None, max_length=20)
    public_website: str | None = Field(default=None, max_length=250)
    created_by_id: int | None = fk("person.id", nullable=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    submitted_at: datetime | None = None
    validated_at: datetime | None = None
    # the instructor's comment when the request is sent back to the requester
    return_comment: str | None = None
    returned_at: datetime | None = None
    # optimistic concurrency: every save sends the version it read
    version: int = 1


@event.listens_for(Organization, "before_insert")
@event.listens_for(Organization, "before_update")
def _fold_name(_mapper, _connection, organization: Organization) -> None:
    """Every organisation the ORM writes keeps its folded name; a bulk UPDATE of the name
    (update(Organization).values(name=…)) must set name_folded itself."""
    organization.name_folded = fold(organization.name)


class OrganizationChange(SQLModel, table=True):
    """Administrative data changes (type, raison sociale, régime, SIRET, URSSAF, address)
    that apply only once the fund validates them."""

    __table_args__ = (
        Index("ix_organizationchange_fund_status_created", "fund_id", "status", "created_at"),
        # every caisse's queue (the administrator's) by date: one page read from the index
        Index("ix_organizationchange_status_created", "status", "created_at", "id"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = fk("organization.id")
    requested_by_id: int = fk("person.id")
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    urssaf_file_id: int | None = fk("storedfile.id", nullable=True, index=False)
    status: str = Field(default=OrganizationChangeStatus.PENDING, max_length=20, index=True)
    comment: str | None = None
    # the caisse that instructs it: the new one when the address moves to another department
    fund_id: int | None = fk("fund.id", nullable=True, index=False)
    created_at: datetime = created_at_field()
    decided_at: datetime | None = None
    decided_by_id: int | None = fk("person.id", nullable=True, index=False)
    version: int = 1
