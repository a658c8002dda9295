"""A new entity's request, seen from its requester (SPEC §4 "Demande de nouvelle entité").

States: brouillon → (Soumettre) → en validation → validée by the caisse, or renvoyée au
demandeur with a comment → corrected and submitted again; brouillon or renvoyée →
(Abandonner) → abandonnée. The caisse's decisions live in organization_instruction.py.
Every save names the version it read (409 when someone saved first); every transition is
audited; a submitted request is a task for the instructors of its caisse.
"""

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from enum import StrEnum

from flask import url_for
from sqlalchemy import update
from sqlmodel import Session, select

from app.clock import utcnow
from app.domain.access import ActiveRole
from app.domain.audit import record_event
from app.domain.caisse_routing import fund_for_postal_code
from app.domain.errors import ConflictError, DomainError
from app.domain.notifications import close_tasks, notify
from app.domain.organization_rules import (
    REQUIRED_MESSAGES,
    STEP_FIELDS,
    RequestFields,
    caisse_for,
    check_request_fields,
    digits_of,
)
from app.domain.storage import get_storage
from app.domain.uploads import UploadRefused, check_upload, has_file, store_checked
from app.models import Fund, Organization, RoleGrant, StoredFile
from app.models.organizations import ORGANIZATION_STATUS_LABELS, OrganizationStatus
from app.models.people import Role
from app.text import fold

CONFLICT = (
    "Cette demande a été modifiée entre-temps (dans un autre onglet ou par la caisse). "
    "Rechargez la page pour voir la dernière version."
)
EDITABLE = frozenset({OrganizationStatus.DRAFT, OrganizationStatus.RETURNED})

# what "Mes demandes en cours" says of each state, in the requester's words
REQUESTER_LABELS = {
    OrganizationStatus.DRAFT: "Brouillon",
    OrganizationStatus.SUBMITTED: "Partie administrative en cours de validation",
    OrganizationStatus.VALIDATED: "Dossier administratif validé",
    OrganizationStatus.RETURNED: "Renvoyée : à corriger",
    OrganizationStatus.REFUSED: ORGANIZATION_STATUS_LABELS[OrganizationStatus.REFUSED],
}


class Action(StrEnum):
    EDIT = "modifier"
    SUBMIT = "soumettre"
    ABANDON = "abandonner"


def request_scope(role: ActiveRole):
    """The requests a demandeur sees: their own, abandoned ones gone."""
    if role.role != Role.DEMANDEUR:
        return Organization.id.is_(None)
    return (Organization.created_by_id == role.person_id) & (
        Organization.status != OrganizationStatus.ABANDONED
    )


def get_for_role(db: Session, role: ActiveRole, organization_id: int) -> Organization | None:
    return db.exec(
        select(Organization).where(Organization.id == organization_id, request_scope(role))
    ).first()


def allowed_actions(role: ActiveRole, organization: Organization) -> set[Action]:
    if role.role != Role.DEMANDEUR or organization.created_by_id != role.person_id:
        return set()
    if organization.status in EDITABLE:
        return {Action.EDIT, Action.SUBMIT, Action.ABANDON}
    return set()


def _require(role: ActiveRole, organization: Organization, action: Action) -> None:
    if action not in allowed_actions(role, organization):
        label = REQUESTER_LABELS.get(organization.status, organization.status)
        raise DomainError(f"Cette action n'est pas possible sur une demande « {label} ».")


def _stored_date(value: date | None) -> datetime | None:
    return datetime(value.year, value.month, value.day, tzinfo=UTC) if value else None


def fields_of(organization: Organization) -> RequestFields:
    values = {f.name: getattr(organization, f.name) for f in fields(RequestFields)}
    issued = values["urssaf_issued_on"]
    values["urssaf_issued_on"] = issued.date() if isinstance(issued, datetime) else issued
    return RequestFields(**values)


def _normalized(values: RequestFields, step: int) -> dict:
    """The step's columns as stored: trimmed, empty as None, numbers without spaces."""
    out = {}
    for name in STEP_FIELDS[step]:
        if name == "urssaf_file":
            continue
        value = getattr(values, name)
        if name == "urssaf_issued_on":
            out[name] = _stored_date(value)
            continue
        value = (value or "").strip() or None
        if value and name in ("siret", "activity_number"):
            value = digits_of(value)
        out[name] = value
    return out


@dataclass
class SaveResult:
    organization: Organization | None
    errors: dict[str, str]


def _step_errors(
    db: Session,
    values: RequestFields,
    step: int,
    *,
    has_attestation: bool,
    complete: bool,
) -> dict[str, str]:
    errors = check_request_fields(db, values, has_attestation=has_attestation, complete=complete)
    return {k: v for k, v in errors.items() if k in STEP_FIELDS[step]}


def save_step(
    db: Session,
    role: ActiveRole,
    organization: Organization | None,
    version: int | None,
    values: RequestFields,
    step: int,
    *,
    attestation=None,
    complete: bool = False,
) -> SaveResult:
    """Enregistrer (or Suivant with `complete`): the step's fields are checked, and saved
    only when none is refused; an attestation is stored only then too. `organization`
    None: the request's first save (it is numbered then)."""
    if organization is not None:
        _require(role, organization, Action.EDIT)
    elif role.role != Role.DEMANDEUR:
        raise DomainError("Seul un demandeur peut faire une demande de nouvelle entité.")
    has_new_file = step == 1 and has_file(attestation)
    had_file = organization is not None and organization.urssaf_file_id is not None
    errors = _step_errors(
        db, values, step, has_attestation=has_new_file or had_file, complete=complete
    )
    if step == 1 and not (values.name or "").strip():
        # a request is listed by its name: even a draft has one
        errors["name"] = REQUIRED_MESSAGES["name"]
    checked = None
    if has_new_file:
        try:
            checked = check_upload(attestation, field="urssaf_file")
        except UploadRefused as refused:
            errors["urssaf_file"] = refused.message
    if errors:
        return SaveResult(organization, errors)
    changes = _normalized(values, step)
    if step == 1:
        changes.update(_routing(db, changes.get("postal_code")))
    old_file_id = None
    if checked is not None:
        stored = store_checked(db, attestation.filename, *checked)
        old_file_id = organization.urssaf_file_id if organization else None
        changes["urssaf_file_id"] = stored.id
    if organization is None:
        organization = Organization(
            kind=changes.pop("kind", None) or "",
            name=changes.pop("name", None) or "",
            created_by_id=role.person_id,
            status=OrganizationStatus.DRAFT,
            **changes,
        )
        db.add(organization)
        db.flush()
        _audit(db, role, organization, "created", None, OrganizationStatus.DRAFT)
    else:
        if "kind" in changes:
            changes["kind"] = changes["kind"] or ""
        if "name" in changes:
            changes["name"] = changes["name"] or ""
        _write(db, organization, version, **changes)
    if old_file_id is not None:
        get_storage().delete(db, old_file_id)
    return SaveResult(organization, {})


def _routing(db: Session, postal_code: str | None) -> dict:
    """The department and caisse of the address (None while the postal code is missing)."""
    if not postal_code:
        return {"department_code": None, "fund_id": None}
    department, fund = fund_for_postal_code(db, postal_code)
    return {"department_code": department.code, "fund_id": fund.id}


def _write(db: Session, organization: Organization, version: int | None, **values) -> None:
    """Apply `values` only if the request is still at `version` (and still the
    requester's to edit); bump it."""
    if "name" in values:  # a bulk UPDATE: the model's own folding does not run
        values["name_folded"] = fold(values["name"])
    done = db.exec(
        update(Organization)
        .where(
            Organization.id == organization.id,
            Organization.version == version,
            Organization.status.in_(list(EDITABLE)),
        )
        .values(version=Organization.version + 1, updated_at=utcnow(), **values)
    ).rowcount
    if not done:
        db.rollback()
        raise ConflictError(CONFLICT)
    db.refresh(organization)


def _audit(db, role, organization, action, before, after, comment=None):
    record_event(
        db,
        actor_id=role.person_id,
        action=f"organization.{action}",
        object_type="organization",
        object_id=organization.id,
        from_state=before,
        to_state=after,
        comment=comment,
    )


def missing_for_submit(db: Session, organization: Organization) -> dict[str, str]:
    """Every field of both steps still missing or refused, for Soumettre."""
    return check_request_fields(
        db,
        fields_of(organization),
        has_attestation=organization.urssaf_file_id is not None,
        complete=True,
    )


def submit(db: Session, role: ActiveRole, organization: Organization, version: int) -> dict:
    """Soumettre: to the caisse of the postal code. Returns {field: message} if something
    is missing (nothing changes then)."""
    _require(role, organization, Action.SUBMIT)
    errors = missing_for_submit(db, organization)
    if errors:
        return errors
    before = organization.status
    _department, fund = fund_for_postal_code(db, organization.postal_code)
    now = utcnow()
    _write(
        db,
        organization,
        version,
        status=OrganizationStatus.SUBMITTED,
        fund_id=fund.id,
        submitted_at=now,
    )
    _audit(db, role, organization, "submitted", before, OrganizationStatus.SUBMITTED)
    # the requester's "renvoyée" task is done; the caisse's instructors get one each
    close_tasks(db, "organization_request", organization.id)
    link = url_for("instruction.request_detail", organization_id=organization.id)
    again = " (corrigée)" if before == OrganizationStatus.RETURNED else ""
    for grant in db.exec(
        select(RoleGrant).where(
            RoleGrant.role == Role.INSTRUCTEUR,
            RoleGrant.fund_id == fund.id,
            RoleGrant.active.is_(True),
        )
    ).all():
        notify(
            db,
            person_id=grant.person_id,
            role_grant_id=grant.id,
            kind="organization.to_instruct",
            title=f"Demande de nouvelle entité n° {organization.id}{again} à instruire : "
            f"{organization.name}",
            link=link,
            object_type="organization",
            object_id=organization.id,
        )
    return {}


def abandon(db: Session, role: ActiveRole, organization: Organization, version: int) -> None:
    _require(role, organization, Action.ABANDON)
    before = organization.status
    _write(db, organization, version, status=OrganizationStatus.ABANDONED)
    _audit(db, role, organization, "abandoned", before, OrganizationStatus.ABANDONED)
    close_tasks(db, "organization_request", organization.id)


@dataclass
class RequestScreen:
    """What a step of the request shows: the request (None before its first save), its
    caisse, its attestation, the instructor's comment when it came back, what is allowed."""

    organization: Organization | None
    fund: Fund | None
    attestation: StoredFile | None
    actions: set
    status_label: str
    missing: dict


def screen(
    db: Session, role: ActiveRole, organization: Organization | None, postal_code: str | None
) -> RequestScreen:
    if organization is None:
        return RequestScreen(
            None, caisse_for(db, postal_code), None, {Action.EDIT}, "Nouvelle demande", {}
        )
    attestation = (
        db.get(StoredFile, organization.urssaf_file_id) if organization.urssaf_file_id else None
    )
    actions = allowed_actions(role, organization)
    return RequestScreen(
        organization=organization,
        fund=caisse_for(db, postal_code),
        attestation=attestation,
        actions=actions,
        status_label=REQUESTER_LABELS.get(organization.status, organization.status),
        missing=missing_for_submit(db, organization) if Action.SUBMIT in actions else {},
    )


def attestation_of(db: Session, role: ActiveRole, organization_id: int) -> StoredFile | None:
    """The attestation of a request the role may see (its requester), else None."""
    organization = get_for_role(db, role, organization_id)
    if organization is None or organization.urssaf_file_id is None:
        return None
    return db.get(StoredFile, organization.urssaf_file_id)


def step_of_field(name: str) -> int:
    return next(step for step, names in STEP_FIELDS.items() if name in names)
