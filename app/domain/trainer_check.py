"""Why a trainer is accepted or refused for a session: the four checks of SPEC §7.

1. the person exists; 2. holds the formateur role; 3. holds the required qualification
(same dispositif, level N+1); 4. it is valid at the session end date. A failed check
stops the following ones; each line says what was found in the users' words.
"""

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from app.domain.identifiers import is_forprev_number, normalize_forprev_number
from app.models import Certificate, CertificateModel, Person, RoleGrant, Scheme, SchemeLevel
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
        return db.exec(select(Person).where(Person.forprev_number == number)).first()
    if not (last_name and first_name and birth_date):
        return None
    candidates = db.exec(select(Person).where(Person.birth_date == birth_date)).all()
    wanted = (fold(last_name), fold(first_name))
    matches = [p for p in candidates if (fold(p.last_name), fold(p.first_name)) == wanted]
    return matches[0] if len(matches) == 1 else None


def required_level(db: Session, level: SchemeLevel) -> SchemeLevel | None:
    """The level a trainer must be certified at: N+1, or the top level for top sessions."""
    levels = db.exec(
        select(SchemeLevel)
        .where(SchemeLevel.scheme_id == level.scheme_id)
        .order_by(SchemeLevel.level)
    ).all()
    above = [lv for lv in levels if lv.level == level.level + 1]
    if above:
        return above[0]
    return level if level.level == levels[-1].level and level.level >= 3 else None


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
    if person is None or not person.active:
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
    needed = required_level(db, level)
    held = []
    if needed is not None:
        held = db.exec(
            select(Certificate, CertificateModel)
            .join(CertificateModel, CertificateModel.id == Certificate.certificate_model_id)
            .where(Certificate.person_id == person.id, Certificate.scheme_level_id == needed.id)
            .order_by(Certificate.valid_until.desc())
        ).all()
    needed_label = f"{scheme.code} niveau {needed.level if needed else level.level + 1}"
    if not held:
        result.lines.append(
            CheckLine(
                LABELS[2],
                False,
                f"Cette personne ne détient pas de certificat {needed_label} : elle ne peut pas "
                f"animer une session {scheme.code} niveau {level.level}.",
            )
        )
        return result
    certificate, model = held[0]
    result.lines.append(
        CheckLine(
            LABELS[2], True, f"{model.name}, valable jusqu'au {certificate.valid_until:%d/%m/%Y}."
        )
    )
    if end_date is None:
        result.lines.append(
            CheckLine(
                LABELS[3], False, "Renseignez d'abord la date de fin de session (onglet Session)."
            )
        )
    elif certificate.valid_until < end_date:
        result.lines.append(
            CheckLine(
                LABELS[3],
                False,
                f"Sa qualification {needed_label} a pris fin le {certificate.valid_until:%d/%m/%Y}, "
                f"avant la date de fin de session ({end_date:%d/%m/%Y}).",
            )
        )
    else:
        result.lines.append(
            CheckLine(LABELS[3], True, f"Valide au {end_date:%d/%m/%Y}, date de fin de session.")
        )
    return result
