"""Mon entité: a gestionnaire edits the entity's data (SPEC §4).

The administrative data (type, raison sociale, régime, SIRET, numéro de déclaration
d'activité, attestation URSSAF, address) changes only once the caisse accepts it: saving
it makes one pending OrganizationChange, instructed by the entity's caisse — or by the
new one when the address moves to another department — while the data in force stays
shown. One change waits at a time; the gestionnaire may withdraw it. The signataire and
the public-listing details apply at once. The fields are checked by the rules the entity
request uses (app/domain/organization_rules.py). Every save names the version it read.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select, update

from app.clock import utcnow
from app.domain.access import ActiveRole
from app.domain.audit import record_event
from app.domain.caisse_routing import department_for_postal_code
from app.domain.errors import ConflictError, DomainError
from app.domain.notifications import close_tasks, notify
from app.domain.organization_rules import (
    LENGTHS,
    REQUIRED_MESSAGES,
    RequestFields,
    caisse_for,
    check_length,
    check_request_fields,
    digits_of,
)
from app.domain.uploads import FileKind, store_checked
from app.models import Fund, Organization, OrganizationChange, RoleGrant
from app.models.organizations import (
    ORGANIZATION_KIND_LABELS,
    OrganizationChangeStatus,
    OrganizationKind,
)
from app.models.people import Role

ADMIN_FIELDS = (
    "kind",
    "name",
    "regime",
    "siret",
    "activity_number",
    "urssaf_issued_on",
    "address",
    "postal_code",
    "city",
)
SIGNATORY_FIELDS = ("signatory_last_name", "signatory_first_name", "signatory_function")
STALE = (
    "Un autre gestionnaire a modifié les données de l'entité pendant votre saisie. "
    "Rechargez la page pour voir la dernière version."
)
ONE_AT_A_TIME = (
    "Une modification est déjà en attente de validation par la caisse : retirez-la ou "
    "attendez sa décision avant d'en demander une autre."
)
PHONE = re.compile(r"\+33[1-9][0-9]{8}")
WEBSITE = re.compile(r"https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]{1,5})?(/[^\s]*)?")


FIELD_LABELS = {
    "kind": "Type d'entité",
    "name": "Raison sociale",
    "regime": "Régime",
    "siret": "SIRET",
    "activity_number": "Numéro de déclaration d'activité",
    "urssaf_issued_on": "Date de l'attestation URSSAF",
    "address": "Adresse",
    "postal_code": "Code postal",
    "city": "Ville",
}


class FieldErrors(DomainError):
    """Fields refused: {field: French message}; nothing was saved."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("Certaines données ne sont pas valables : corrigez-les.")
        self.errors = errors


@dataclass
class PendingChange:
    change: OrganizationChange
    fund_name: str | None
    rows: list[tuple[str, str, str]]  # (label, in force, asked)
    moves_caisse: bool


def _own(db: Session, actor: ActiveRole, *, lock: bool = False) -> Organization:
    """The actor's entity (gestionnaire only), locked until commit when it will change."""
    if actor.role != Role.GESTIONNAIRE or actor.organization_id is None:
        raise DomainError("Seul un gestionnaire modifie les données de l'entité.")
    query = select(Organization).where(Organization.id == actor.organization_id)
    return db.exec(query.with_for_update() if lock else query).one()


def _check_version(organization: Organization, version: int) -> None:
    if organization.version != version:
        raise ConflictError(STALE)


def _touch(organization: Organization) -> None:
    organization.version += 1
    organization.updated_at = utcnow()


def shown(name: str, value) -> str:
    """A field's value as the screen writes it."""
    if value in (None, ""):
        return "—"
    if name == "kind":
        return ORGANIZATION_KIND_LABELS.get(value, value)
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    return str(value)


# --- the pending change -------------------------------------------------------------------


def pending_change(db: Session, organization_id: int) -> OrganizationChange | None:
    return db.exec(
        select(OrganizationChange).where(
            OrganizationChange.organization_id == organization_id,
            OrganizationChange.status == OrganizationChangeStatus.PENDING,
        )
    ).first()


def pending_view(db: Session, organization: Organization) -> PendingChange | None:
    """The change waiting for the caisse, as "Modification en attente de validation"."""
    change = pending_change(db, organization.id)
    if change is None:
        return None
    rows = [
        (
            FIELD_LABELS[name],
            shown(name, getattr(organization, name)),
            shown(name, _stored(name, value)),
        )
        for name, value in change.changes.items()
        if name in FIELD_LABELS
    ]
    if change.urssaf_file_id:
        rows.append(("Attestation URSSAF", "—", "nouvelle attestation jointe"))
    fund = db.get(Fund, change.fund_id) if change.fund_id else None
    return PendingChange(
        change=change,
        fund_name=fund.name if fund else None,
        rows=rows,
        moves_caisse=change.fund_id != organization.fund_id,
    )


def _stored(name: str, value):
    """A value of `OrganizationChange.changes` (JSON: a date as ISO text)."""
    if name == "urssaf_issued_on" and isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return value


def admin_values(organization: Organization) -> RequestFields:
    """The data in force, as the change form starts from it."""
    return RequestFields(
        **{
            name: getattr(organization, name) for name in ADMIN_FIELDS if name != "urssaf_issued_on"
        },
        urssaf_issued_on=organization.urssaf_issued_on.date()
        if organization.urssaf_issued_on
        else None,
        **{name: getattr(organization, name) for name in SIGNATORY_FIELDS},
    )


def _normalized(name: str, value):
    if name in ("siret", "activity_number"):
        return digits_of(value) or None
    if isinstance(value, str):
        return value.strip() or None
    return value


def check_admin_fields(
    db: Session, organization: Organization, values: RequestFields, *, new_attestation: bool
) -> dict[str, str]:
    """{field: French message} for the administrative data typed (the live check and the
    save). The attestation's date is checked when it changes: the one in force may be
    older, the caisse accepted it then."""
    current = admin_values(organization)
    for name in SIGNATORY_FIELDS:  # not asked here: the ones in force complete the check
        setattr(values, name, getattr(current, name))
    errors = check_request_fields(
        db,
        values,
        has_attestation=bool(organization.urssaf_file_id) or new_attestation,
        complete=True,
    )
    date_changed = values.urssaf_issued_on != current.urssaf_issued_on
    if not (date_changed or new_attestation):
        errors.pop("urssaf_issued_on", None)
        errors.pop("urssaf_file", None)
    elif date_changed and not new_attestation and "urssaf_issued_on" not in errors:
        errors["urssaf_file"] = "Joignez l'attestation URSSAF de cette date (PDF)."
    # a field the entity never had (older records) is asked when filled, not required
    return {
        name: message
        for name, message in errors.items()
        if not name.startswith("signatory")
        and not (
            message == REQUIRED_MESSAGES.get(name)
            and name in ADMIN_FIELDS
            and getattr(current, name) in (None, "")
        )
    }


def request_change(
    db: Session,
    actor: ActiveRole,
    *,
    version: int,
    values: RequestFields,
    attestation: tuple[str | None, bytes, FileKind] | None = None,
) -> OrganizationChange:
    """One pending change with the fields that differ from the data in force, instructed
    by the caisse of the new postal code when it moves the entity to another department.
    Raises FieldErrors when a field is refused (nothing stored)."""
    organization = _own(db, actor, lock=True)
    _check_version(organization, version)
    if pending_change(db, organization.id) is not None:
        raise DomainError(ONE_AT_A_TIME)
    errors = check_admin_fields(db, organization, values, new_attestation=attestation is not None)
    if errors:
        raise FieldErrors(errors)
    current = admin_values(organization)
    changes = {}
    for name in ADMIN_FIELDS:
        new = _normalized(name, getattr(values, name))
        if new != _normalized(name, getattr(current, name)):
            changes[name] = new.isoformat() if isinstance(new, date) else new
    if not changes and attestation is None:
        raise DomainError("Aucune donnée administrative n'a changé : rien à faire valider.")
    fund_id = organization.fund_id
    if "postal_code" in changes:
        department = department_for_postal_code(changes["postal_code"])
        if department != organization.department_code:
            changes["department_code"] = department
            fund_id = caisse_for(db, changes["postal_code"]).id
    stored = (
        store_checked(db, attestation[0], attestation[1], attestation[2]) if attestation else None
    )
    change = OrganizationChange(
        organization_id=organization.id,
        requested_by_id=actor.person_id,
        changes=changes,
        urssaf_file_id=stored.id if stored else None,
        fund_id=fund_id,
    )
    db.add(change)
    _touch(organization)  # a second change sent from the same page is stale
    db.add(organization)
    db.flush()
    record_event(
        db,
        actor_id=actor.person_id,
        action="organization_change.requested",
        object_type="organization_change",
        object_id=change.id,
        to_state=OrganizationChangeStatus.PENDING,
        data={"organization_id": organization.id, "fields": sorted(changes), "fund_id": fund_id},
    )
    instructors = db.exec(
        select(RoleGrant).where(
            RoleGrant.role == Role.INSTRUCTEUR,
            RoleGrant.fund_id == fund_id,
            RoleGrant.active.is_(True),
        )
    ).all()
    for grant in instructors:
        notify(
            db,
            person_id=grant.person_id,
            role_grant_id=grant.id,
            kind="organization_change.requested",
            title=f"Modification des données de l'entité {organization.name} à valider",
            link=f"/instruction/modifications/{change.id}",
            object_type="organization_change",
            object_id=change.id,
        )
    return change


def change_of(db: Session, organization_id: int, change_id: int) -> OrganizationChange | None:
    """A change of this entity; None for another entity's."""
    change = db.get(OrganizationChange, change_id)
    return change if change and change.organization_id == organization_id else None


def withdraw_change(db: Session, actor: ActiveRole, change_id: int, version: int) -> None:
    """The gestionnaire takes the pending change back ("retirée")."""
    organization = _own(db, actor, lock=True)
    change = change_of(db, organization.id, change_id)
    if change is None:
        raise LookupError(change_id)
    done = db.exec(
        update(OrganizationChange)
        .where(
            OrganizationChange.id == change.id,
            OrganizationChange.version == version,
            OrganizationChange.status == OrganizationChangeStatus.PENDING,
        )
        .values(status=OrganizationChangeStatus.WITHDRAWN, version=OrganizationChange.version + 1)
    ).rowcount
    if not done:
        raise ConflictError(
            "Cette modification n'est plus en attente : la caisse l'a décidée ou elle a déjà "
            "été retirée. Rechargez la page."
        )
    record_event(
        db,
        actor_id=actor.person_id,
        action="organization_change.withdrawn",
        object_type="organization_change",
        object_id=change.id,
        from_state=OrganizationChangeStatus.PENDING,
        to_state=OrganizationChangeStatus.WITHDRAWN,
        data={"organization_id": organization.id},
    )
    close_tasks(db, "organization_change", change.id)


# --- applied at once --------------------------------------------------------------------


def check_signatory(last_name, first_name, function) -> dict[str, str]:
    errors = {}
    for name, value in zip(SIGNATORY_FIELDS, (last_name, first_name, function), strict=True):
        limit, label = LENGTHS[name]
        if not (value or "").strip():
            errors[name] = REQUIRED_MESSAGES[name]
        elif message := check_length(value, limit, label):
            errors[name] = message
    return errors


def update_signatory(
    db: Session, actor: ActiveRole, *, version: int, last_name, first_name, function
) -> None:
    organization = _own(db, actor, lock=True)
    _check_version(organization, version)
    if errors := check_signatory(last_name, first_name, function):
        raise FieldErrors(errors)
    before = [getattr(organization, name) for name in SIGNATORY_FIELDS]
    organization.signatory_last_name = last_name.strip().upper()
    organization.signatory_first_name = first_name.strip()
    organization.signatory_function = function.strip()
    _touch(organization)
    db.add(organization)
    record_event(
        db,
        actor_id=actor.person_id,
        action="organization.signatory_changed",
        object_type="organization",
        object_id=organization.id,
        data={"before": before},
    )


def check_email(value: str | None) -> str | None:
    if not value:
        return None
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return "Saisissez une adresse e-mail valide, par exemple contact@exemple.fr."
    return None if len(value) <= 254 else "L'adresse e-mail est trop longue (254 au plus)."


def normalized_phone(value: str | None) -> str | None:
    """+33 and 9 digits, typed with spaces, dots or dashes; a leading 0 is +33."""
    raw = re.sub(r"[\s.()-]", "", value or "")
    if raw.startswith("0") and len(raw) == 10:
        raw = "+33" + raw[1:]
    return raw if PHONE.fullmatch(raw) else None


def check_listing(listed: bool, email, phone, website) -> dict[str, str]:
    errors = {}
    if message := check_email(email):
        errors["public_email"] = message
    if phone and normalized_phone(phone) is None:
        errors["public_phone"] = (
            "Saisissez un numéro au format +33 suivi de 9 chiffres, par exemple +33 3 88 00 00 00."
        )
    if website and (len(website) > 250 or not WEBSITE.fullmatch(website)):
        errors["public_website"] = (
            "Saisissez l'adresse complète du site, par exemple https://www.exemple.fr."
        )
    if listed and not (email or phone or website):
        errors["public_listing"] = (
            "Pour figurer sur la liste, renseignez au moins une adresse e-mail, un "
            "téléphone ou un site web."
        )
    return errors


def update_listing(
    db: Session, actor: ActiveRole, *, version: int, listed: bool, email, phone, website
) -> None:
    """ "Diffusion sur liste inrs.fr": training organisations only, with a way to reach them."""
    organization = _own(db, actor, lock=True)
    _check_version(organization, version)
    if organization.kind != OrganizationKind.TRAINING:
        raise DomainError("La diffusion sur inrs.fr concerne les seuls organismes de formation.")
    email, phone, website = ((v or "").strip() or None for v in (email, phone, website))
    if errors := check_listing(listed, email, phone, website):
        raise FieldErrors(errors)
    organization.public_listing = listed
    organization.public_email = email.lower() if email else None
    organization.public_phone = _spaced(normalized_phone(phone)) if phone else None
    organization.public_website = website
    _touch(organization)
    db.add(organization)
    record_event(
        db,
        actor_id=actor.person_id,
        action="organization.listing_changed",
        object_type="organization",
        object_id=organization.id,
        data={"listed": listed},
    )


def _spaced(phone: str) -> str:
    """+33388000000 → +33 3 88 00 00 00"""
    rest = phone[4:]
    return f"+33 {phone[3]} " + " ".join(rest[i : i + 2] for i in range(0, 8, 2))
