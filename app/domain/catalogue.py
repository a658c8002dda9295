"""The administrator's catalogue (SPEC §2, REFERENCE §2): dispositifs, their levels' session
rules, certificate models, the documents a request needs and the qualifications a trainer
needs to run a session.

Each object has one `check_…` function that parses what was typed and returns the values
and {field: French message}; inline validation and the save both call it, so a rule is
written once. Each `update_…` refuses a form that was shown other values than those stored
now (ConflictError: someone else saved first), writes only what changed and records the
change in the audit trail as {field: [old, new]}. Nothing here rewrites an issued
certificate: Certificate.valid_until is stored when the certificate is issued.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_
from sqlmodel import Session, select

from app.domain.audit import record_event
from app.domain.errors import ConflictError, DomainError
from app.models import (
    AuditEvent,
    CertificateModel,
    CertSession,
    DocumentRequirement,
    LevelQualification,
    Person,
    Scheme,
    SchemeLevel,
)
from app.models.cert_sessions import SessionState

# how each field is named in the history and in messages
FIELD_LABELS = {
    "scheme": {
        "name": "Nom du dispositif",
        "active": "Ouvert aux demandes d'habilitation",
        "technical_requirements": "Exigences techniques (onglet Technique)",
    },
    "scheme_level": {
        "min_trainees": "Nombre minimum de stagiaires",
        "max_trainees": "Nombre maximum de stagiaires",
        "warn_above": "Seuil d'avertissement",
        "initial_hours": "Durée du stage initial (heures)",
        "mac_hours": "Durée du stage MAC (heures)",
        "programme_required": "Programmes et déroulés exigés",
        "inrs_only": "Réservé à l'INRS",
        "qualification": "Qualification du formateur",
    },
    "certificate_model": {
        "name": "Nom du certificat",
        "validity_months": "Validité (mois)",
        "active": "Actif",
        "issued_in_sessions": "Délivré en session",
    },
    "document_requirement": {
        "label": "Intitulé du document",
        "help_text": "Aide",
        "required": "Obligatoire",
    },
}
OBJECT_LABELS = {
    "scheme": "Dispositif",
    "scheme_level": "Niveau",
    "certificate_model": "Certificat",
    "document_requirement": "Document",
}
ACTION_LABELS = {
    "catalogue_updated": "modifié",
    "catalogue_created": "ajouté",
    "qualification_added": "qualification ajoutée",
    "qualification_removed": "qualification retirée",
}

VALIDITY_RANGE = (1, 120)
TRAINEES_RANGE = (1, 100)
HOURS_RANGE = (1, 500)
# "in progress": every state before the certificates are generated (a session abandoned
# is deleted, there is no cancelled state)
IN_PROGRESS = (SessionState.DRAFT, SessionState.TRAINER, SessionState.ENTITY)


class InvalidFields(DomainError):
    """Several fields refused at once: {field: French message}; `field`/`message` name the
    first."""

    def __init__(self, errors: dict[str, str]):
        name, message = next(iter(errors.items()))
        super().__init__(message, name)
        self.errors = errors


# --- what a form shows and sends back ---------------------------------------------------


def shown(value) -> str:
    """A stored value as a form shows it in its hidden `was_<field>` (compared on save)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).replace("\r\n", "\n")


def _is_stale(obj, shown_values: Mapping[str, str], names) -> bool:
    return any(
        shown(getattr(obj, name)) != (shown_values.get(name) or "").replace("\r\n", "\n")
        for name in names
    )


def _text(raw, label: str, errors: dict, name: str, *, required: bool, max_length: int):
    value = " ".join((raw or "").split()) if name != "help_text" else (raw or "").strip()
    value = value.replace("\r\n", "\n")
    if not value:
        if required:
            errors[name] = f"{label} doit être renseigné."
        return None
    if len(value) > max_length:
        errors[name] = f"{label} : {max_length} caractères au plus."
    return value


def _number(raw, errors: dict, name: str, *, bounds: tuple[int, int], required: bool, message):
    text = (raw or "").strip()
    if not text:
        if required:
            errors[name] = message
        return None
    # ASCII digits only: "¹" or "٣" are digits to str.isdigit but not to int()
    if not (text.isascii() and text.isdigit()) or not bounds[0] <= int(text) <= bounds[1]:
        errors[name] = message
        return None
    return int(text)


def _flag(raw) -> bool:
    return raw in (True, "y", "on", "1", "true", "oui")


# --- checks (inline validation and save) -----------------------------------------------


def check_scheme(data: Mapping) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    values = {
        "name": _text(
            data.get("name"), "Le nom du dispositif", errors, "name", required=True, max_length=200
        ),
        "active": _flag(data.get("active")),
        "technical_requirements": _flag(data.get("technical_requirements")),
    }
    return values, errors


def check_level_rules(data: Mapping) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    low, high = TRAINEES_RANGE
    size = f"Saisissez un nombre de stagiaires entre {low} et {high}."
    minimum = _number(
        data.get("min_trainees"),
        errors,
        "min_trainees",
        bounds=TRAINEES_RANGE,
        required=True,
        message=size,
    )
    maximum = _number(
        data.get("max_trainees"),
        errors,
        "max_trainees",
        bounds=TRAINEES_RANGE,
        required=True,
        message=size,
    )
    warn = _number(
        data.get("warn_above"),
        errors,
        "warn_above",
        bounds=TRAINEES_RANGE,
        required=False,
        message=f"Saisissez un nombre de stagiaires entre {low} et {high}, ou laissez vide "
        "(pas d'avertissement).",
    )
    hours = f"Saisissez une durée en heures entre {HOURS_RANGE[0]} et {HOURS_RANGE[1]}, ou laissez vide."
    initial = _number(
        data.get("initial_hours"),
        errors,
        "initial_hours",
        bounds=HOURS_RANGE,
        required=False,
        message=hours,
    )
    mac = _number(
        data.get("mac_hours"),
        errors,
        "mac_hours",
        bounds=HOURS_RANGE,
        required=False,
        message=hours,
    )
    if minimum is not None and maximum is not None and minimum > maximum:
        errors["max_trainees"] = (
            f"Le nombre maximum de stagiaires ({maximum}) ne peut pas être inférieur au "
            f"minimum ({minimum})."
        )
    elif None not in (minimum, maximum, warn) and not minimum <= warn < maximum:
        errors["warn_above"] = (
            f"Le seuil d'avertissement doit être compris entre {minimum} et {maximum - 1} "
            f"stagiaires : au-delà du seuil et jusqu'au maximum ({maximum}), la session est "
            "acceptée avec un avertissement."
            if minimum < maximum
            else "Avec un minimum égal au maximum, il n'y a pas de seuil "
            "d'avertissement : laissez le champ vide."
        )
    values = {
        "min_trainees": minimum,
        "max_trainees": maximum,
        "warn_above": warn,
        "initial_hours": initial,
        "mac_hours": mac,
        "programme_required": _flag(data.get("programme_required")),
        "inrs_only": _flag(data.get("inrs_only")),
    }
    return values, errors


def check_model(
    db: Session, data: Mapping, scheme_level_id: int, model_id: int | None = None
) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    low, high = VALIDITY_RANGE
    values = {
        "name": _text(
            data.get("name"),
            "Le nom du certificat",
            errors,
            "name",
            required=True,
            max_length=200,
        ),
        "validity_months": _number(
            data.get("validity_months"),
            errors,
            "validity_months",
            bounds=VALIDITY_RANGE,
            required=True,
            message=f"La durée de validité doit être comprise entre {low} et {high} mois "
            "(10 ans) : par exemple 24 ou 36.",
        ),
        "active": _flag(data.get("active")),
        "issued_in_sessions": _flag(data.get("issued_in_sessions")),
    }
    if values["name"] and "name" not in errors:
        same = db.exec(
            select(CertificateModel.id).where(
                CertificateModel.scheme_level_id == scheme_level_id,
                CertificateModel.name == values["name"],
                CertificateModel.id != (model_id or 0),
            )
        ).first()
        if same is not None:
            errors["name"] = "Ce niveau a déjà un certificat de ce nom : choisissez-en un autre."
    return values, errors


def check_requirement(data: Mapping) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    values = {
        "label": _text(
            data.get("label"),
            "L'intitulé du document",
            errors,
            "label",
            required=True,
            max_length=200,
        ),
        "help_text": _text(
            data.get("help_text"), "L'aide", errors, "help_text", required=False, max_length=500
        ),
        "required": _flag(data.get("required")),
    }
    return values, errors


# --- writes ----------------------------------------------------------------------------


def _apply(
    db: Session,
    obj,
    object_type: str,
    values: dict,
    shown_values: Mapping[str, str],
    actor_id: int | None,
) -> dict:
    """Write the values that changed and audit them; a stale form changes nothing."""
    if _is_stale(obj, shown_values, values):
        raise ConflictError(
            "Quelqu'un a modifié ces informations pendant que vous les consultiez : "
            "rechargez la page pour voir les valeurs actuelles, puis refaites votre "
            "modification. Rien n'a été enregistré."
        )
    changes = {
        name: [getattr(obj, name), value]
        for name, value in values.items()
        if getattr(obj, name) != value
    }
    for name, (_old, new) in changes.items():
        setattr(obj, name, new)
    if changes:
        db.add(obj)
        record_event(
            db,
            actor_id=actor_id,
            action="catalogue_updated",
            object_type=object_type,
            object_id=obj.id,
            data=changes,
        )
    return changes


def _get(db: Session, model, object_id: int):
    obj = db.get(model, object_id)
    if obj is None:
        raise LookupError(object_id)
    return obj


def _follow(db: Session, requirements: list[DocumentRequirement], required: bool, actor_id) -> None:
    """Document rows that follow a level's or a dispositif's switch (programme required,
    Technique tab): their `required` changes with it, audited."""
    for requirement in requirements:
        if requirement.required != required:
            _apply(
                db,
                requirement,
                "document_requirement",
                {"required": required},
                {"required": shown(requirement.required)},
                actor_id,
            )


def update_scheme(
    db: Session, *, actor_id: int | None, scheme_id: int, data: Mapping, shown_values: Mapping
) -> dict:
    scheme = _get(db, Scheme, scheme_id)
    values, errors = check_scheme(data)
    if errors:
        raise InvalidFields(errors)
    changes = _apply(db, scheme, "scheme", values, shown_values, actor_id)
    if changes.get("technical_requirements") == [True, False]:
        # without a Technique tab its documents can no longer be asked for
        technical = db.exec(
            select(DocumentRequirement)
            .join(SchemeLevel, SchemeLevel.id == DocumentRequirement.scheme_level_id)
            .where(SchemeLevel.scheme_id == scheme.id, DocumentRequirement.tab == "technique")
        ).all()
        _follow(db, list(technical), False, actor_id)
    return changes


def update_level_rules(
    db: Session, *, actor_id: int | None, level_id: int, data: Mapping, shown_values: Mapping
) -> dict:
    level = _get(db, SchemeLevel, level_id)
    values, errors = check_level_rules(data)
    if errors:
        raise InvalidFields(errors)
    changes = _apply(db, level, "scheme_level", values, shown_values, actor_id)
    if "programme_required" in changes:
        pedagogical = db.exec(
            select(DocumentRequirement).where(
                DocumentRequirement.scheme_level_id == level.id,
                DocumentRequirement.kind.in_(("programme", "deroule")),
            )
        ).all()
        _follow(db, list(pedagogical), level.programme_required, actor_id)
    return changes


def update_model(
    db: Session, *, actor_id: int | None, model_id: int, data: Mapping, shown_values: Mapping
) -> dict:
    model = _get(db, CertificateModel, model_id)
    values, errors = check_model(db, data, model.scheme_level_id, model.id)
    if errors:
        raise InvalidFields(errors)
    return _apply(db, model, "certificate_model", values, shown_values, actor_id)


def add_model(
    db: Session, *, actor_id: int | None, level_id: int, data: Mapping
) -> CertificateModel:
    level = _get(db, SchemeLevel, level_id)
    values, errors = check_model(db, data, level.id)
    if errors:
        raise InvalidFields(errors)
    model = CertificateModel(scheme_level_id=level.id, **values)
    db.add(model)
    db.flush()
    record_event(
        db,
        actor_id=actor_id,
        action="catalogue_created",
        object_type="certificate_model",
        object_id=model.id,
        data={name: [None, value] for name, value in values.items()},
    )
    return model


def update_requirement(
    db: Session,
    *,
    actor_id: int | None,
    requirement_id: int,
    data: Mapping,
    shown_values: Mapping,
) -> dict:
    requirement = _get(db, DocumentRequirement, requirement_id)
    values, errors = check_requirement(data)
    if errors:
        raise InvalidFields(errors)
    return _apply(db, requirement, "document_requirement", values, shown_values, actor_id)


# --- the qualifications a trainer needs --------------------------------------------------


def sessions_in_progress(db: Session, level_id: int) -> int:
    return db.exec(
        select(func.count(CertSession.id)).where(
            CertSession.scheme_level_id == level_id, CertSession.state.in_(IN_PROGRESS)
        )
    ).one()


def add_qualification(
    db: Session, *, actor_id: int | None, level_id: int, model_id: int | None
) -> LevelQualification:
    level = _get(db, SchemeLevel, level_id)
    scheme = db.get(Scheme, level.scheme_id)
    model = db.get(CertificateModel, model_id) if model_id else None
    if model is None:
        raise DomainError("Choisissez le certificat qui qualifie le formateur.", "model_id")
    model_level = db.get(SchemeLevel, model.scheme_level_id)
    if model_level.scheme_id != scheme.id:
        raise DomainError(
            f"Ce certificat n'appartient pas au dispositif {scheme.code} : choisissez un "
            f"certificat de ce dispositif (de n'importe quel niveau).",
            "model_id",
        )
    already = db.exec(
        select(LevelQualification.id).where(
            LevelQualification.scheme_level_id == level.id,
            LevelQualification.certificate_model_id == model.id,
        )
    ).first()
    if already is not None:
        raise DomainError(
            f"« {model.name} » qualifie déjà les formateurs de ce niveau.", "model_id"
        )
    row = LevelQualification(scheme_level_id=level.id, certificate_model_id=model.id)
    db.add(row)
    db.flush()
    record_event(
        db,
        actor_id=actor_id,
        action="qualification_added",
        object_type="scheme_level",
        object_id=level.id,
        data={"qualification": [None, model.name]},
    )
    return row


def remove_qualification(
    db: Session, *, actor_id: int | None, level_id: int, qualification_id: int
) -> bool:
    """Remove one qualifying model; returns True when the level has none left (the page
    then warns that no trainer can pass the check). The last one of a level with
    sessions in progress stays: their trainer check would fail. The level's row is locked
    first (PostgreSQL), so two administrators removing its last two qualifications at once
    count one after the other."""
    db.exec(select(SchemeLevel.id).where(SchemeLevel.id == level_id).with_for_update()).first()
    row = db.get(LevelQualification, qualification_id)
    if row is None or row.scheme_level_id != level_id:
        raise ConflictError(
            "Cette qualification a déjà été retirée : rechargez la page pour voir la liste "
            "actuelle."
        )
    remaining = db.exec(
        select(func.count(LevelQualification.id)).where(
            LevelQualification.scheme_level_id == level_id
        )
    ).one()
    if remaining == 1:
        count = sessions_in_progress(db, level_id)
        if count:
            plural = "s" if count > 1 else ""
            raise DomainError(
                f"C'est la dernière qualification de ce niveau et {count} session{plural} "
                f"en cours l'utilise{'nt' if count > 1 else ''} pour la vérification du "
                "formateur : ajoutez d'abord une autre qualification, ou attendez que ces "
                "sessions soient clôturées.",
                "qualification",
            )
    model = db.get(CertificateModel, row.certificate_model_id)
    db.delete(row)
    db.flush()
    record_event(
        db,
        actor_id=actor_id,
        action="qualification_removed",
        object_type="scheme_level",
        object_id=level_id,
        data={"qualification": [model.name, None]},
    )
    return remaining == 1


# --- what the screens show ---------------------------------------------------------------


@dataclass(frozen=True)
class QualificationRow:
    id: int
    model_name: str
    level: int
    active: bool


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    who: str
    what: str  # "Certificat « … » modifié"
    changes: list[tuple[str, str, str]]  # (field label, old, new) in French


@dataclass
class LevelPage:
    """Everything the page of one dispositif-level shows."""

    scheme: Scheme
    level: SchemeLevel
    levels: list[SchemeLevel]  # the dispositif's levels, for the navigation
    models: list[CertificateModel]
    requirements: list[DocumentRequirement]
    qualifications: list[QualificationRow]
    # certificate models of the dispositif not yet listed: (id, "niveau N — name")
    qualification_choices: list[tuple[int, str]] = field(default_factory=list)
    in_progress: int = 0


def level_page(db: Session, level_id: int) -> LevelPage | None:
    level = db.get(SchemeLevel, level_id)
    if level is None:
        return None
    scheme = db.get(Scheme, level.scheme_id)
    levels = list(
        db.exec(
            select(SchemeLevel)
            .where(SchemeLevel.scheme_id == scheme.id)
            .order_by(SchemeLevel.level)
        ).all()
    )
    scheme_models = db.exec(
        select(CertificateModel, SchemeLevel.level)
        .join(SchemeLevel, SchemeLevel.id == CertificateModel.scheme_level_id)
        .where(SchemeLevel.scheme_id == scheme.id)
        .order_by(SchemeLevel.level, CertificateModel.name)
    ).all()
    listed = db.exec(
        select(LevelQualification.id, LevelQualification.certificate_model_id).where(
            LevelQualification.scheme_level_id == level.id
        )
    ).all()
    by_model = {model_id: row_id for row_id, model_id in listed}
    qualifications = [
        QualificationRow(by_model[m.id], m.name, model_level, m.active)
        for m, model_level in scheme_models
        if m.id in by_model
    ]
    return LevelPage(
        scheme=scheme,
        level=level,
        levels=levels,
        models=[m for m, _lv in scheme_models if m.scheme_level_id == level.id],
        requirements=list(
            db.exec(
                select(DocumentRequirement)
                .where(DocumentRequirement.scheme_level_id == level.id)
                .order_by(DocumentRequirement.position, DocumentRequirement.id)
            ).all()
        ),
        qualifications=qualifications,
        qualification_choices=[
            (m.id, f"Niveau {model_level} — {m.name}")
            for m, model_level in scheme_models
            if m.id not in by_model
        ],
        in_progress=sessions_in_progress(db, level.id),
    )


def history_statement(db: Session, page: LevelPage):
    """The audit events of a level page's objects, newest first, with their author."""
    model_ids = [m.id for m in page.models]
    requirement_ids = [r.id for r in page.requirements]
    return (
        select(AuditEvent, Person.first_name, Person.last_name)
        .outerjoin(Person, Person.id == AuditEvent.actor_id)
        .where(
            or_(
                and_(AuditEvent.object_type == "scheme", AuditEvent.object_id == page.scheme.id),
                and_(
                    AuditEvent.object_type == "scheme_level",
                    AuditEvent.object_id == page.level.id,
                ),
                and_(
                    AuditEvent.object_type == "certificate_model",
                    AuditEvent.object_id.in_(model_ids or [0]),
                ),
                and_(
                    AuditEvent.object_type == "document_requirement",
                    AuditEvent.object_id.in_(requirement_ids or [0]),
                ),
            )
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )


def _value_fr(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


def history_lines(page: LevelPage, rows) -> list[HistoryLine]:
    names = {
        "scheme": {page.scheme.id: page.scheme.code},
        "scheme_level": {page.level.id: f"{page.scheme.code} niveau {page.level.level}"},
        "certificate_model": {m.id: m.name for m in page.models},
        "document_requirement": {r.id: r.label for r in page.requirements},
    }
    lines = []
    for event, first_name, last_name in rows:
        name = names.get(event.object_type, {}).get(event.object_id, "")
        what = f"{OBJECT_LABELS.get(event.object_type, event.object_type)} « {name} » " + (
            ACTION_LABELS.get(event.action, event.action)
        )
        labels = FIELD_LABELS.get(event.object_type, {})
        changes = [
            (labels.get(key, key), _value_fr(old), _value_fr(new))
            for key, (old, new) in (event.data or {}).items()
        ]
        who = f"{first_name} {last_name}" if last_name else "Forprev"
        lines.append(HistoryLine(at=event.at, who=who, what=what, changes=changes))
    return lines
