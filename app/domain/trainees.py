"""Trainees of a session: one added by hand, or a pasted block of lines
(nom;prénom;date de naissance[;e-mail]), each bad line pointed out and nothing lost.
An exact duplicate within the session is refused; a likely one (same birth date, a name
that differs only by accents, case or order) is shown to the user."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from app.clock import today
from app.domain.trainer_check import find_person_by_identity, fold
from app.models import Person, Trainee

NAME = re.compile(r"[^\W\d_]+(?:[ '’-]+[^\W\d_]+)*")
MIN_AGE, MAX_AGE = 14, 100


@dataclass
class TraineeInput:
    last_name: str = ""
    first_name: str = ""
    birth_date: date | None = None
    email: str | None = None
    forprev_number: str | None = None
    person_id: int | None = None


@dataclass
class PastedLine:
    number: int
    text: str
    trainee: TraineeInput | None = None
    errors: list[str] = field(default_factory=list)


def parse_date(value: str) -> date | None:
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    return None


def check_trainee(values: TraineeInput, *, level: int) -> dict[str, str]:
    """{field: French message} for one trainee of a session at `level`."""
    errors = {}
    for name, label in (("last_name", "nom"), ("first_name", "prénom")):
        value = (getattr(values, name) or "").strip()
        if not value:
            errors[name] = f"Saisissez le {label} du stagiaire."
        elif len(value) > 100:
            errors[name] = f"Le {label} ne doit pas dépasser 100 caractères."
        elif not NAME.fullmatch(value):
            errors[name] = (
                f"Le {label} ne peut contenir que des lettres, des espaces, des traits "
                "d'union et des apostrophes."
            )
    born = values.birth_date
    if born is None:
        errors["birth_date"] = "Saisissez la date de naissance, par exemple 14/07/1990."
    else:
        age = today().year - born.year - ((today().month, today().day) < (born.month, born.day))
        if born >= today():
            errors["birth_date"] = "La date de naissance doit être dans le passé."
        elif not MIN_AGE <= age <= MAX_AGE:
            errors["birth_date"] = (
                f"Vérifiez la date de naissance : l'âge doit être entre {MIN_AGE} et {MAX_AGE} ans."
            )
    email = (values.email or "").strip()
    if level >= 2 and not values.person_id and not email:
        errors["email"] = (
            "Un futur formateur a besoin d'une adresse e-mail : son compte Forprev "
            "sera créé s'il réussit."
        )
    elif email:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            errors["email"] = (
                "Saisissez une adresse e-mail valide, par exemple marie.dupont@exemple.fr."
            )
    return errors


def _key(last_name: str, first_name: str, birth_date: date | None) -> tuple:
    return fold(last_name), fold(first_name), birth_date


def duplicate_of(existing: list[Trainee], values: TraineeInput) -> Trainee | None:
    wanted = _key(values.last_name, values.first_name, values.birth_date)
    return next(
        (t for t in existing if _key(t.last_name, t.first_name, t.birth_date) == wanted), None
    )


def likely_duplicates(trainees: list[Trainee]) -> list[tuple[Trainee, Trainee]]:
    """Pairs born the same day whose names match once swapped or reduced to one part."""
    pairs = []
    for i, a in enumerate(trainees):
        for b in trainees[i + 1 :]:
            if a.birth_date != b.birth_date:
                continue
            la, fa, lb, fb = (
                fold(a.last_name),
                fold(a.first_name),
                fold(b.last_name),
                fold(b.first_name),
            )
            if (la, fa) == (fb, lb) or la == lb or (fa == fb and (la in lb or lb in la)):
                pairs.append((a, b))
    return pairs


def parse_block(text: str, *, level: int, existing: list[Trainee]) -> list[PastedLine]:
    """Read pasted lines; each gets its trainee or its errors (with the line number)."""
    lines = []
    seen = list(existing)
    for number, raw in enumerate((text or "").splitlines(), start=1):
        if not raw.strip():
            continue
        line = PastedLine(number=number, text=raw.strip())
        parts = [p.strip() for p in re.split(r"[;\t]", raw.strip())]
        if len(parts) not in (3, 4):
            line.errors.append(
                "Il faut 3 ou 4 éléments séparés par des points-virgules : "
                "nom;prénom;date de naissance;e-mail."
            )
            lines.append(line)
            continue
        birth = parse_date(parts[2])
        values = TraineeInput(
            last_name=parts[0],
            first_name=parts[1],
            birth_date=birth,
            email=parts[3] if len(parts) == 4 and parts[3] else None,
        )
        errors = check_trainee(values, level=level)
        if birth is None and parts[2]:
            errors["birth_date"] = f"« {parts[2]} » n'est pas une date (jj/mm/aaaa)."
        line.errors.extend(errors.values())
        if not errors and duplicate_of(seen, values):
            line.errors.append("Ce stagiaire figure déjà dans la session.")
        if not line.errors:
            line.trainee = values
            seen.append(
                Trainee(
                    cert_session_id=0,
                    last_name=values.last_name,
                    first_name=values.first_name,
                    birth_date=values.birth_date,
                )
            )
        lines.append(line)
    return lines


def prefill(db: Session, forprev_number: str) -> Person | None:
    """Level ≥ 2: the person behind a Forprev number, to fill the trainee's identity."""
    return find_person_by_identity(db, forprev_number=forprev_number)


def trainees_of(db: Session, cert_session_id: int) -> list[Trainee]:
    return list(
        db.exec(
            select(Trainee)
            .where(Trainee.cert_session_id == cert_session_id)
            .order_by(Trainee.position, Trainee.id)
        ).all()
    )
