"""People, the roles they hold, and their account links."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import event
from sqlmodel import Field, Index, SQLModel, UniqueConstraint

from app.models.base import KEEP_IDS, created_at_field, fk
from app.text import fold


class Role(StrEnum):
    DEMANDEUR = "demandeur"
    GESTIONNAIRE = "gestionnaire"
    DELEGATAIRE = "delegataire"
    FORMATEUR = "formateur"
    INSTRUCTEUR = "instructeur"
    ADMINISTRATEUR = "administrateur"


ROLE_LABELS = {
    Role.DEMANDEUR: "Demandeur",
    Role.GESTIONNAIRE: "Gestionnaire",
    Role.DELEGATAIRE: "Délégataire",
    Role.FORMATEUR: "Formateur",
    Role.INSTRUCTEUR: "Instructeur",
    Role.ADMINISTRATEUR: "Administrateur",
}


class Person(SQLModel, table=True):
    __table_args__ = (
        # "Personnes": a search by any part of the name, e-mail or Forprev number
        # (trigrams on PostgreSQL, pg_trgm; a plain index on SQLite)
        Index(
            "ix_person_search_folded",
            "search_folded",
            postgresql_using="gin",
            postgresql_ops={"search_folded": "gin_trgm_ops"},
        ),
        # its order (nom, prénom): a page of a region or of a common name read in order
        Index("ix_person_name_order", "last_name", "first_name", "id"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    forprev_number: str = Field(max_length=8, unique=True)
    email: str = Field(max_length=254, unique=True)
    last_name: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    birth_date: date | None = Field(default=None, index=True)  # trainer found by identity
    password_hash: str | None = Field(default=None, max_length=200)
    active: bool = True
    # bumped when the password changes: every other login session carries the old value
    auth_version: int = 1
    notify_alerts: bool = True
    notify_notifications: bool = True
    notify_messages: bool = True
    onboarded_at: datetime | None = None
    trainer_fund_id: int | None = fk("fund.id", nullable=True)
    last_login_at: datetime | None = None
    created_at: datetime = created_at_field()
    # `person_search_text(…)`, written with every identity (see _fold_search below)
    search_folded: str = ""
    # a duplicate merged into another record: its Forprev number still finds the kept one
    merged_into_id: int | None = fk("person.id", nullable=True)
    deactivated_at: datetime | None = None


def person_search_text(last_name, first_name, email, forprev_number) -> str:
    """What "Personnes" searches in: names, e-mail and Forprev number, folded."""
    return fold(f"{last_name or ''} {first_name or ''} {email or ''} {forprev_number or ''}")


@event.listens_for(Person, "before_insert")
@event.listens_for(Person, "before_update")
def _fold_search(_mapper, _connection, person: Person) -> None:
    """Every person the ORM writes keeps its search text; a bulk UPDATE of an identity must
    set search_folded itself (person_search_text)."""
    person.search_folded = person_search_text(
        person.last_name, person.first_name, person.email, person.forprev_number
    )


class RoleGrant(SQLModel, table=True):
    """A role held by a person, scoped to an organization (gestionnaire, délégataire)
    or a fund (instructeur)."""

    __table_args__ = (
        UniqueConstraint("person_id", "role", "organization_id", "fund_id"),
        KEEP_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = fk("person.id", ondelete="CASCADE")
    role: str = Field(max_length=20, index=True)
    organization_id: int | None = fk("organization.id", nullable=True)
    fund_id: int | None = fk("fund.id", nullable=True)
    active: bool = True
    created_at: datetime = created_at_field()


class AccountToken(SQLModel, table=True):
    """A single-use link (password, first password, account confirmation, e-mail change).
    Only the token's hash is stored."""

    __table_args__ = KEEP_IDS

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = fk("person.id", ondelete="CASCADE")
    purpose: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    new_email: str | None = Field(default=None, max_length=254)
    created_at: datetime = created_at_field()
    expires_at: datetime
    used_at: datetime | None = None
