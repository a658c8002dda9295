"""Certification sessions and their trainees."""

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, Index, SQLModel

from app.models.base import KEEP_IDS, created_at_field, fk


class SessionState(StrEnum):
    DRAFT = "saisie"
    TRAINER = "validation_formateur"
    ENTITY = "validation_entite"
    CLOSED = "cloturee"


SESSION_STATE_LABELS = {
    SessionState.DRAFT: "En cours de saisie",
    SessionState.TRAINER: "En cours de validation Formateur",
    SessionState.ENTITY: "En cours de validation Entité",
    SessionState.CLOSED: "Clôturée (certificats générés)",
}


class CertSession(SQLModel, table=True):
    __table_args__ = (
        Index("ix_certsession_org_state_updated", "organization_id", "state", "updated_at"),
        Index("ix_certsession_trainer_state_updated", "trainer_id", "state", "updated_at"),
        Index("ix_certsession_creator_updated", "created_by_id", "updated_at"),
        # the list's sorts within an entity (by id uses the primary key)
        Index("ix_certsession_org_updated", "organization_id", "updated_at"),
        Index("ix_certsession_org_end", "organization_id", "end_date"),
        Index("ix_certsession_org_state_end", "organization_id", "state", "end_date"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = fk("organization.id", index=False)
    accreditation_id: int | None = fk("accreditation.id", nullable=True)
    scheme_level_id: int | None = fk("schemelevel.id", nullable=True)
    certificate_model_id: int | None = fk("certificatemodel.id", nullable=True, index=False)
    created_by_id: int = fk("person.id", index=False)
    trainer_id: int | None = fk("person.id", nullable=True, index=False)
    location: str | None = Field(default=None, max_length=200)
    platform_id: int | None = fk("platform.id", nullable=True, index=False)
    postal_code: str | None = Field(default=None, max_length=5)
    city: str | None = Field(default=None, max_length=100)
    is_refresher: bool | None = None  # MAC
    end_date: date | None = Field(default=None, index=True)
    state: str = Field(default=SessionState.DRAFT, max_length=30)
    return_comment: str | None = None
    last_actor_id: int | None = fk("person.id", nullable=True, index=False)
    success_count: int | None = None
    # optimistic concurrency: every save sends the version it read
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    closed_at: datetime | None = None
    downloaded_at: datetime | None = None
    purge_after: date | None = Field(default=None, index=True)
    # when its trainees went into the anonymous statistics (once per session)
    counted_at: datetime | None = None


class Trainee(SQLModel, table=True):
    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    cert_session_id: int = fk("certsession.id", ondelete="CASCADE")
    position: int = 0
    last_name: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    birth_date: date
    email: str | None = Field(default=None, max_length=254)
    person_id: int | None = fk("person.id", nullable=True)
    # None until the trainer decides; True = Réussite, False = Échec
    passed: bool | None = None
