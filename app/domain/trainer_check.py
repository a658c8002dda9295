"""Why a trainer is accepted or refused for a session: the four checks of SPEC §7.

1. the person exists; 2. holds the formateur role; 3. holds the required qualification
(one of the certificate models the catalogue lists for the session's dispositif-level:
issued in a session or recorded outside Forprev); 4. it is valid at the session end date. A failed check
stops the following ones; each line says what was found in the users' words.
"""

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, case, union_all
from sqlmodel import Session, select

from app.domain.identifiers import is_forprev_number, normalize_forprev_number
from app.models import (
    Certificate,
    CertificateModel,
    LevelQualification,
    Person,
    Qualification,
    RoleGrant,
    Scheme,
    SchemeLevel,
)
from app.models.people import Role


@dataclass(frozen=True)
class CheckLine:
    label: str
    ok: bool
    message: str


@dataclass
class TrainerCheck:
    lines: list[CheckLine] = field(default_factory=list)
    person: Person | None = None

    @property
    def ok(self) -> bool:
        return len(self.lines) == 4 and all(line.ok for line in self.lines)

    @property
    def failure(self) -> str | None:
        return next((line.message for line in self.lines if not line.ok), None)


LABELS = [
    "La personne existe dans Forprev",
    "Elle a le rôle formateur",
    "Elle détient la qualification requise",
    "Sa qualification est valide à la date de fin de session",
]


def fold(text: str) -> str:
    """Upper-case without accents, hyphens or extra spaces: how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.upper().replace("-", " ").replace("'", " ").split())


def find_person_by_identity(
    db: Session,
    *,
    forprev_number: str | None = None,
    last_name: str | None = None,
    first_name: str | None = None,
    birth_date: date | None = None,
) -> Person | None:
    number = normalize_forprev_number(forprev_number or "")
    if number:
        if not is_forprev_number(number):
            return None
        found = db.exec(select(Person).where(Person.forprev_number == number)).first()
        if found is not None and found.merged_into_id is not None:
            # a record merged into another: its number still finds the one kept
            return db.get(Person, found.merged_into_id)
        return found
    if not (last_name and first_name and birth_date):
        return None
    candidates = db.exec(
        select(Person).where(Person.birth_date == birth_date, Person.merged_into_id.is_(None))
    ).all()
    wanted = (fold(last_name), fold(first_name))
    matches = [p for p in candidates if (fold(p.last_name), fold(p.first_name)) == wanted]
    return matches[0] if len(matches) == 1 else None


def qualifying_models(db: Session, scheme_level_id: int) -> list[CertificateModel]:
    """The certificate models that qualify a trainer for this dispositif-level: the
    catalogue's list (REFERENCE §2), which the administrator edits."""
    return list(
        db.exec(
            select(CertificateModel)
            .join(
                LevelQualification,
                LevelQualification.certificate_model_id == CertificateModel.id,
            )
            .where(LevelQualification.scheme_level_id == scheme_level_id)
            .order_by(CertificateModel.name)
        ).all()
    )


@dataclass(frozen=True)
class Held:
    name: str
    valid_from: date
    valid_until: date


def held_qualification(
    db: Session, person_id: int, model_ids: list[int], on: date | None = None
) -> Held | None:
    """The person's qualification among these models: a certificate issued in a Forprev
    session (valid from the session's end) or one recorded outside (Qualification). The
    one valid on `on` (the session's end) if any, else the one lasting longest."""
    if not model_ids:
        return None
    issued = (
        select(
            CertificateModel.name,
            Certificate.session_end_date.label("valid_from"),
            Certificate.valid_until,
        )
        .join(CertificateModel, CertificateModel.id == Certificate.certificate_model_id)
        .where(Certificate.person_id == person_id, Certificate.certificate_model_id.in_(model_ids))
    )
    recorded = (
        select(CertificateModel.name, Qualification.valid_from, Qualification.valid_until)
        .join(CertificateModel, CertificateModel.id == Qualification.certificate_model_id)
        .where(
            Qualification.person_id == person_id,
            Qualification.certificate_model_id.in_(model_ids),
        )
    )
    both = union_all(issued, recorded).subquery()
    order = [both.c.valid_until.desc()]
    if on is not None:
        covers = and_(both.c.valid_from <= on, both.c.valid_until >= on)
        order.insert(0, case((covers, 0), else_=1))
    row = db.exec(
        select(both.c.name, both.c.valid_from, both.c.valid_until).order_by(*order).limit(1)
    ).first()
    return Held(*row) if row else None


def _names(models: list[CertificateModel]) -> str:
    return ", ".join(f"« {m.name} »" for m in models)


def check_trainer(
    db: Session,
    *,
    scheme_level_id: int,
    end_date: date | None,
    forprev_number: str | None = None,
    last_name: str | None = None,
    first_name: str | None = None,
    birth_date: date | None = None,
) -> TrainerCheck:
    result = TrainerCheck()
    person = find_person_by_identity(
        db,
        forprev_number=forprev_number,
        last_name=last_name,
        first_name=first_name,
        birth_date=birth_date,
    )
    if person is not None and person.deactivated_at is not None:
        result.lines.append(
            CheckLine(
                LABELS[0],
                False,
                f"Le compte de {person.first_name} {person.last_name} ({person.forprev_number}) "
                "a été désactivé : cette personne ne peut pas animer de session.",
            )
        )
        return result
    # an account never activated (imported, waiting for its first password) still exists
    if person is None:
        how = (
            f"le numéro Forprev {normalize_forprev_number(forprev_number)}"
            if forprev_number
            else "ces nom, prénom et date de naissance"
        )
        result.lines.append(CheckLine(LABELS[0], False, f"Aucune personne trouvée avec {how}."))
        return result
    result.person = person
    result.lines.append(
        CheckLine(
            LABELS[0], True, f"{person.first_name} {person.last_name} ({person.forprev_number})."
        )
    )
    is_trainer = db.exec(
        select(RoleGrant.id).where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == Role.FORMATEUR,
            RoleGrant.active.is_(True),
        )
    ).first()
    if is_trainer is None:
        result.lines.append(
            CheckLine(LABELS[1], False, "Cette personne n'a pas le rôle formateur dans Forprev.")
        )
        return result
    result.lines.append(CheckLine(LABELS[1], True, "Rôle formateur présent."))

    level = db.get(SchemeLevel, scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id)
    session_label = f"une session {scheme.code} niveau {level.level}"
    models = qualifying_models(db, level.id)
    if not models:
        result.lines.append(
            CheckLine(
                LABELS[2],
                False,
                f"Le catalogue ne dit pas encore quelle qualification permet d'animer "
                f"{session_label} : l'administrateur doit la renseigner.",
            )
        )
        return result
    held = held_qualification(db, person.id, [m.id for m in models], on=end_date)
    if held is None:
        wanted = (
            f"pas de {_names(models)}"
            if len(models) == 1
            else f"aucune de ces qualifications : {_names(models)}"
        )
        result.lines.append(
            CheckLine(
                LABELS[2],
                False,
                f"Cette personne ne détient {wanted} : elle ne peut pas animer {session_label}.",
            )
        )
        return result
    name, valid_until = held.name, held.valid_until
    result.lines.append(
        CheckLine(LABELS[2], True, f"{name}, valable jusqu'au {valid_until:%d/%m/%Y}.")
    )
    if end_date is None:
        result.lines.append(
            CheckLine(
                LABELS[3], False, "Renseignez d'abord la date de fin de session (onglet Session)."
            )
        )
    elif held.valid_from > end_date:
        result.lines.append(
            CheckLine(
                LABELS[3],
                False,
                f"Sa qualification « {name} » ne commence que le {held.valid_from:%d/%m/%Y}, "
                f"après la date de fin de session ({end_date:%d/%m/%Y}).",
            )
        )
    elif valid_until < end_date:
        result.lines.append(
            CheckLine(
                LABELS[3],
                False,
                f"Sa qualification « {name} » a pris fin le {valid_until:%d/%m/%Y}, "
                f"avant la date de fin de session ({end_date:%d/%m/%Y}).",
            )
        )
    else:
        result.lines.append(
            CheckLine(LABELS[3], True, f"Valide au {end_date:%d/%m/%Y}, date de fin de session.")
        )
    return result
