"""A trainer's qualification obtained outside Forprev's sessions, recorded by INRS (an
administrator): level 3 of a dispositif INRS runs itself, or a certificate from before
Forprev 2. It is a Qualification row, which the trainer check counts like an issued
certificate (trainer_check.held_qualification) and "Mes certificats" shows.

The administrator chooses a certificate model of the catalogue, the start and end dates
(the end defaults to the start plus the model's validity) and may join a PDF through the
app's one upload path. A wrong entry is withdrawn: the row goes, the audit keeps what it
held.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from app.domain.audit import record_event
from app.domain.certificate_issue import valid_until as end_after_validity
from app.domain.storage import get_storage
from app.domain.uploads import FileKind, store_checked
from app.models import (
    CertificateModel,
    Person,
    Qualification,
    Scheme,
    SchemeLevel,
    StoredFile,
)

MODEL_REQUIRED = "Choisissez le certificat obtenu."
MODEL_UNKNOWN = "Ce certificat n'existe pas au catalogue : choisissez-en un dans la liste."
START_REQUIRED = "Saisissez la date de début de validité."
END_BEFORE_START = "La date de fin de validité doit être postérieure à la date de début."
DUPLICATE = (
    "Cette personne a déjà ce certificat enregistré avec la même date de début "
    "({start:%d/%m/%Y}) : retirez l'ancien s'il est faux, ou changez la date de début."
)


class FieldErrors(Exception):
    """Messages per field; nothing was written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class ModelChoice:
    id: int
    name: str
    group: str  # "SST — niveau 3": the dispositif and level the model belongs to
    validity_months: int
    issued_in_sessions: bool


@dataclass(frozen=True)
class QualificationInput:
    certificate_model_id: int | None
    valid_from: date | None
    valid_until: date | None
    note: str | None = None


@dataclass(frozen=True)
class HeldQualification:
    id: int
    person_id: int
    model_name: str
    scheme_code: str
    level: int
    valid_from: date
    valid_until: date
    has_file: bool
    source: str
    note: str | None
    recorded_at: datetime
    recorded_by: str | None  # "Prénom NOM" of the administrator, None for an import


def holder(db: Session, person_id: int) -> Person | None:
    """The person a qualification is recorded for: None for no one or a merged record (the
    record kept holds what the merged one had)."""
    person = db.get(Person, person_id)
    if person is None or person.merged_into_id is not None:
        return None
    return person


def model_choices(db: Session) -> list[ModelChoice]:
    """Every active certificate model of the catalogue, by dispositif and level, INRS's
    "formateur de formateurs" models (never issued in a session) included."""
    rows = db.exec(
        select(CertificateModel, Scheme.code, SchemeLevel.level)
        .join(SchemeLevel, SchemeLevel.id == CertificateModel.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(CertificateModel.active.is_(True))
        .order_by(Scheme.code, SchemeLevel.level, CertificateModel.name)
    ).all()
    return [
        ModelChoice(
            id=model.id,
            name=model.name,
            group=f"{code} — niveau {level}",
            validity_months=model.validity_months,
            issued_in_sessions=model.issued_in_sessions,
        )
        for model, code, level in rows
    ]


def _model(db: Session, model_id: int | None) -> CertificateModel | None:
    if model_id is None or model_id < 1:
        return None
    model = db.get(CertificateModel, model_id)
    return model if model is not None and model.active else None


def default_end(db: Session, model_id: int | None, start: date | None) -> date | None:
    """The end a qualification gets when none is typed: the start plus the model's
    validity (as a certificate issued in a session)."""
    model = _model(db, model_id)
    if model is None or start is None:
        return None
    return end_after_validity(start, model)


def check_fields(db: Session, person_id: int, values: QualificationInput) -> dict[str, str]:
    """{field: message} for what was typed (an inline check judges a half-filled form the
    same way: only the fields filled in are judged, the save also asks for the missing)."""
    errors: dict[str, str] = {}
    model = _model(db, values.certificate_model_id)
    if values.certificate_model_id is not None and model is None:
        errors["certificate_model_id"] = MODEL_UNKNOWN
    if values.valid_from and values.valid_until and values.valid_until <= values.valid_from:
        errors["valid_until"] = END_BEFORE_START
    if model is not None and values.valid_from is not None:
        taken = db.exec(
            select(Qualification.id).where(
                Qualification.person_id == person_id,
                Qualification.certificate_model_id == model.id,
                Qualification.valid_from == values.valid_from,
            )
        ).first()
        if taken is not None:
            errors["valid_from"] = DUPLICATE.format(start=values.valid_from)
    return errors


def _save_errors(db: Session, person_id: int, values: QualificationInput) -> dict[str, str]:
    errors = check_fields(db, person_id, values)
    if values.certificate_model_id is None:
        errors.setdefault("certificate_model_id", MODEL_REQUIRED)
    if values.valid_from is None:
        errors.setdefault("valid_from", START_REQUIRED)
    return errors


def record_qualification(
    db: Session,
    *,
    actor_id: int,
    person: Person,
    values: QualificationInput,
    document: tuple[str | None, bytes, FileKind] | None = None,
) -> Qualification:
    """Record the qualification (and its PDF, already accepted by check_upload), audited;
    FieldErrors and nothing written when a field is refused."""
    errors = _save_errors(db, person.id, values)
    if errors:
        raise FieldErrors(errors)
    model = _model(db, values.certificate_model_id)
    end = values.valid_until or end_after_validity(values.valid_from, model)
    note = (values.note or "").strip() or None
    try:
        # a savepoint: the same qualification saved twice at once is refused, not a 500
        with db.begin_nested():
            stored = store_checked(db, *document) if document else None
            qualification = Qualification(
                person_id=person.id,
                certificate_model_id=model.id,
                valid_from=values.valid_from,
                valid_until=end,
                file_id=stored.id if stored else None,
                source="manuel",
                note=note,
                recorded_by_id=actor_id,
            )
            db.add(qualification)
            db.flush()
    except IntegrityError:
        raise FieldErrors({"valid_from": DUPLICATE.format(start=values.valid_from)}) from None
    record_event(
        db,
        actor_id=actor_id,
        action="qualification.recorded",
        object_type="person",
        object_id=person.id,
        data=_audit_data(qualification, model),
    )
    return qualification


def _audit_data(qualification: Qualification, model: CertificateModel) -> dict:
    return {
        "qualification_id": qualification.id,
        "certificate_model_id": model.id,
        "certificate_model": model.name,
        "valid_from": qualification.valid_from.isoformat(),
        "valid_until": qualification.valid_until.isoformat(),
        "file_id": qualification.file_id,
        "source": qualification.source,
        "note": qualification.note,
    }


def qualification_of(db: Session, person_id: int, qualification_id: int) -> Qualification | None:
    qualification = db.get(Qualification, qualification_id)
    if qualification is None or qualification.person_id != person_id:
        return None
    return qualification


def withdraw_qualification(
    db: Session, *, actor_id: int, person_id: int, qualification_id: int
) -> Qualification:
    """A qualification recorded by mistake goes (its PDF too); the audit event keeps
    everything it said. LookupError for another person's or one already withdrawn."""
    qualification = qualification_of(db, person_id, qualification_id)
    if qualification is None:
        raise LookupError(qualification_id)
    model = db.get(CertificateModel, qualification.certificate_model_id)
    record_event(
        db,
        actor_id=actor_id,
        action="qualification.withdrawn",
        object_type="person",
        object_id=person_id,
        data=_audit_data(qualification, model),
    )
    file_id = qualification.file_id
    db.delete(qualification)
    db.flush()
    if file_id is not None:
        get_storage(current_app.config["STORAGE"]).delete(db, file_id)
    return qualification


def qualifications_query(person_id: int, *, valid_on: date | None = None):
    """A person's qualifications with their model, dispositif and who recorded them; with
    `valid_on`, only those still valid that day."""
    recorder = aliased(Person)
    query = (
        select(
            Qualification,
            CertificateModel.name,
            Scheme.code,
            SchemeLevel.level,
            recorder.first_name,
            recorder.last_name,
        )
        .join(CertificateModel, CertificateModel.id == Qualification.certificate_model_id)
        .join(SchemeLevel, SchemeLevel.id == CertificateModel.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .outerjoin(recorder, recorder.id == Qualification.recorded_by_id)
        .where(Qualification.person_id == person_id)
        .order_by(Qualification.valid_until.desc(), Qualification.id.desc())
    )
    if valid_on is not None:
        query = query.where(Qualification.valid_until >= valid_on)
    return query


def held_qualifications(rows) -> list[HeldQualification]:
    """Rows of qualifications_query (a page of them) as what the screens show."""
    return [
        HeldQualification(
            id=q.id,
            person_id=q.person_id,
            model_name=name,
            scheme_code=code,
            level=level,
            valid_from=q.valid_from,
            valid_until=q.valid_until,
            has_file=q.file_id is not None,
            source=q.source,
            note=q.note,
            recorded_at=q.created_at,
            recorded_by=f"{first} {last}" if last else None,
        )
        for q, name, code, level, first, last in rows
    ]


def qualifications_of(
    db: Session, person_id: int, *, valid_on: date | None = None
) -> list[HeldQualification]:
    return held_qualifications(db.exec(qualifications_query(person_id, valid_on=valid_on)).all())


def stored_file(db: Session, qualification: Qualification) -> StoredFile | None:
    if qualification.file_id is None:
        return None
    return db.get(StoredFile, qualification.file_id)
