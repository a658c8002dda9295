"""The rules of a certification session's "Session" tab (SPEC §7, REFERENCE §2 and §4).

Each check takes plain values and returns a French message or None; `check_session_fields`
runs them all and returns {field: message}. Inline validation and submit use the same
functions, so a rule is written once.
"""

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from flask import current_app, g, has_request_context
from sqlmodel import Session, select

from app.clock import today
from app.domain.access import ActiveRole, accreditation_scope, scope_key
from app.domain.accreditation_status import (
    suspension_on,
    suspensions_by_accreditation,
    valid_some_day,
)
from app.domain.caisse_routing import fund_for_postal_code
from app.domain.errors import DomainError
from app.models import Accreditation, CertificateModel, Platform, Scheme, SchemeLevel
from app.models.people import Role


@dataclass(frozen=True)
class Choice:
    """An accreditation the active role may declare sessions under."""

    accreditation_id: int
    scheme_level_id: int
    label: str  # "SST / 1"
    scheme_name: str
    needs_platform: bool  # the dispositif requires a platform and none is mobile
    level: int
    ends_on: date | None = None  # shown when it ends before the latest possible end date


def declarable_accreditations(
    db: Session, role: ActiveRole, on: date | None = None
) -> list[Choice]:
    """The entity's accreditations (délégataire: the delegated ones) valid on at least one
    end date a session declared on `on` (today) may have. A session is judged at its end
    date: an accreditation that ended last week still covers the sessions that ended
    while it was valid."""
    if role.role not in (Role.GESTIONNAIRE, Role.DELEGATAIRE):
        return []
    first, last = allowed_end_dates(on)
    # asked two or three times by one page (the tab, its checks, its readiness): read
    # once per request, for this scope and these dates (nothing a request writes changes
    # an accreditation's validity)
    key = ("declarable", scope_key(role), first, last)
    kept = g.setdefault("forprev_request_memo", {}) if has_request_context() else {}
    if key not in kept:
        kept[key] = _declarable(db, role, first, last)
    return kept[key]


def _declarable(db: Session, role: ActiveRole, first: date, last: date) -> list[Choice]:
    rows = db.exec(
        select(Accreditation, SchemeLevel, Scheme)
        .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(
            accreditation_scope(role),
            Accreditation.end_date >= first,
            Accreditation.start_date <= last,
        )
        .order_by(Scheme.code, SchemeLevel.level)
    ).all()
    suspensions = suspensions_by_accreditation(db, [a.id for a, _, _ in rows])
    return [
        Choice(
            accreditation_id=acc.id,
            scheme_level_id=level.id,
            label=f"{scheme.code} / {level.level}",
            scheme_name=scheme.name,
            needs_platform=scheme.technical_requirements and not acc.mobile_platform,
            level=level.level,
            ends_on=acc.end_date if acc.end_date < last else None,
        )
        for acc, level, scheme in rows
        if valid_some_day(acc, suspensions[acc.id], first, last)
    ]


def declaration_window(end: date) -> tuple[date, date]:
    """The days on which a session ending on `end` may be declared."""
    before = current_app.config["DECLARATION_MONTHS_BEFORE"]
    after = current_app.config["DECLARATION_MONTHS_AFTER"]
    return end - relativedelta(months=before), end + relativedelta(months=after)


def allowed_end_dates(on: date | None = None) -> tuple[date, date]:
    """The end dates a session declared on `on` (today) may have."""
    day = on or today()
    before = current_app.config["DECLARATION_MONTHS_BEFORE"]
    after = current_app.config["DECLARATION_MONTHS_AFTER"]
    return day - relativedelta(months=after), day + relativedelta(months=before)


def check_accreditation_on(accreditation: Accreditation, suspensions, end: date) -> str | None:
    """The accreditation must be valid on the session's end date (not today)."""
    if end > accreditation.end_date:
        return (
            f"L'habilitation prend fin le {accreditation.end_date:%d/%m/%Y} : elle n'est plus "
            f"valide le {end:%d/%m/%Y}, date de fin de la session."
        )
    if end < accreditation.start_date:
        return (
            f"L'habilitation n'est valide qu'à partir du {accreditation.start_date:%d/%m/%Y} : "
            "la session ne peut pas se terminer avant."
        )
    if suspension := suspension_on(suspensions, end):
        return (
            f"L'habilitation est suspendue du {suspension.start_date:%d/%m/%Y} au "
            f"{suspension.end_date:%d/%m/%Y} : aucun certificat ne peut être délivré pour une "
            "session qui se termine pendant la suspension."
        )
    return None


def check_end_date(
    end: date | None, accreditation: Accreditation | None, suspensions
) -> str | None:
    if end is None:
        return None
    first, last = allowed_end_dates()
    if not first <= end <= last:
        return (
            f"La date de fin doit être comprise entre le {first:%d/%m/%Y} et le "
            f"{last:%d/%m/%Y} : une session se déclare au plus "
            f"{current_app.config['DECLARATION_MONTHS_BEFORE']} mois avant et "
            f"{current_app.config['DECLARATION_MONTHS_AFTER']} mois après sa date de fin."
        )
    if accreditation is not None:
        return check_accreditation_on(accreditation, suspensions, end)
    return None


def check_city(city: str | None) -> str | None:
    value = (city or "").strip()
    if not value:
        return None
    if len(value) > 100:
        return "Le nom de la ville ne doit pas dépasser 100 caractères."
    if not any(c.isalpha() for c in value) or any(c.isdigit() for c in value):
        return "Saisissez le nom de la ville en lettres, par exemple Strasbourg."
    return None


def check_postal_code(db: Session, postal_code: str | None) -> str | None:
    if not (postal_code or "").strip():
        return None
    try:
        fund_for_postal_code(db, postal_code)
    except DomainError as exc:
        return exc.message
    return None


@dataclass
class SessionFields:
    accreditation_id: int | None = None
    certificate_model_id: int | None = None
    location: str | None = None
    platform_id: int | None = None
    postal_code: str | None = None
    city: str | None = None
    is_refresher: bool | None = None
    end_date: date | None = None


REQUIRED_MESSAGES = {
    "accreditation_id": "Choisissez le dispositif et le niveau.",
    "certificate_model_id": "Le certificat doit être renseigné.",
    "location": "Le lieu de formation doit être renseigné.",
    "postal_code": "Le code postal doit être renseigné.",
    "city": "La ville doit être renseignée.",
    "is_refresher": "Indiquez s'il s'agit d'un stage initial ou d'une mise à jour des compétences.",
    "end_date": "La date de fin de session doit être renseignée.",
}

# the fields as the checklist names them, in the form's order
FIELD_NAMES = {
    "accreditation_id": "le dispositif et le niveau",
    "certificate_model_id": "le certificat à éditer",
    "location": "le lieu de formation",
    "postal_code": "le code postal",
    "city": "la ville",
    "is_refresher": "le type de stage",
    "end_date": "la date de fin de session",
}


def check_session_fields(
    db: Session, role: ActiveRole, values: SessionFields, *, complete: bool = False
) -> dict[str, str]:
    """{field: French message}. With `complete`, empty fields are errors too (sending to
    the trainer); otherwise only what was typed is checked (saving a draft)."""
    errors: dict[str, str] = {}
    choices = {c.accreditation_id: c for c in declarable_accreditations(db, role)}
    choice = choices.get(values.accreditation_id) if values.accreditation_id else None
    accreditation = db.get(Accreditation, choice.accreditation_id) if choice else None
    if values.accreditation_id and choice is None:
        errors["accreditation_id"] = (
            "Ce dispositif et ce niveau ne font pas partie des habilitations valides "
            "que vous pouvez utiliser."
        )
    if values.certificate_model_id:
        model = db.get(CertificateModel, values.certificate_model_id)
        if (
            model is None
            or not model.issued_in_sessions
            or not model.active
            or (choice and model.scheme_level_id != choice.scheme_level_id)
        ):
            errors["certificate_model_id"] = "Ce certificat ne correspond pas au dispositif choisi."
    if choice and choice.needs_platform:
        if values.platform_id:
            platform = db.get(Platform, values.platform_id)
            if platform is None or platform.accreditation_id != choice.accreditation_id:
                errors["location"] = (
                    "Ce dispositif exige une plateforme pédagogique : choisissez une des "
                    "plateformes déclarées sur l'habilitation."
                )
            elif platform.cnh_approved_on is None or platform.cnh_approved_on > today():
                errors["location"] = (
                    f"La plateforme « {platform.name} » attend encore son approbation par la "
                    "caisse : choisissez une plateforme approuvée."
                )
        elif (values.location or "").strip():
            errors["location"] = (
                "Ce dispositif exige une plateforme pédagogique : choisissez une des "
                "plateformes déclarées sur l'habilitation."
            )
    if values.location and len(values.location) > 200:
        errors["location"] = "Le lieu de formation ne doit pas dépasser 200 caractères."
    if message := check_postal_code(db, values.postal_code):
        errors["postal_code"] = message
    if message := check_city(values.city):
        errors["city"] = message
    suspensions = suspensions_by_accreditation(db, [accreditation.id]) if accreditation else {}
    if message := check_end_date(
        values.end_date,
        accreditation,
        suspensions.get(accreditation.id, []) if accreditation else [],
    ):
        errors["end_date"] = message
    if complete:
        filled = {
            "accreditation_id": values.accreditation_id,
            "certificate_model_id": values.certificate_model_id,
            "location": values.platform_id or (values.location or "").strip(),
            "postal_code": (values.postal_code or "").strip(),
            "city": (values.city or "").strip(),
            "is_refresher": values.is_refresher is not None,
            "end_date": values.end_date,
        }
        for name, value in filled.items():
            if not value and name not in errors:
                errors[name] = REQUIRED_MESSAGES[name]
    return errors


def platforms_of(db: Session, accreditation_id: int, on: date | None = None) -> list[Platform]:
    """The platforms a session's lieu may be chosen from: those of the accreditation the CNH
    approved by `on` (today); one added during the accreditation waits for its approval."""
    return list(
        db.exec(
            select(Platform)
            .where(
                Platform.accreditation_id == accreditation_id,
                Platform.cnh_approved_on <= (on or today()),
            )
            .order_by(Platform.name, Platform.id)
        ).all()
    )


def models_of(db: Session, scheme_level_id: int) -> list[CertificateModel]:
    return list(
        db.exec(
            select(CertificateModel)
            .where(
                CertificateModel.scheme_level_id == scheme_level_id,
                CertificateModel.issued_in_sessions.is_(True),
                CertificateModel.active.is_(True),
            )
            .order_by(CertificateModel.name)
        ).all()
    )


def check_group_size(level: SchemeLevel, count: int) -> tuple[str | None, str | None]:
    """(error, warning) for the number of trainees of a session at this level."""
    if count < level.min_trainees:
        return (
            f"Une session de ce dispositif compte au moins {level.min_trainees} "
            f"stagiaire{'s' if level.min_trainees > 1 else ''} ; il y en a {count}.",
            None,
        )
    if count > level.max_trainees:
        return (
            f"Une session de ce dispositif compte au plus {level.max_trainees} stagiaires ; "
            f"il y en a {count}. Répartissez-les en deux sessions.",
            None,
        )
    if level.warn_above and count > level.warn_above:
        extra = count - level.warn_above
        return None, (
            f"Au-delà de {level.warn_above} stagiaires, la session dure une heure de plus par "
            f"stagiaire supplémentaire : {extra} heure{'s' if extra > 1 else ''} de plus ici."
        )
    return None, None
