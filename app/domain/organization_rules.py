"""The rules of an entity's administrative data (SPEC §4, REFERENCE §1 and §5).

Each check takes plain values and returns a French message or None; `check_request_fields`
runs them all and returns {field: message}. The live check of each field, the request's
submit and the later changes in "Mon entité" use the same functions.
"""

import re
import unicodedata
from dataclasses import dataclass, fields
from datetime import date

from dateutil.relativedelta import relativedelta
from sqlmodel import Session

from app.clock import today
from app.domain.caisse_routing import fund_for_postal_code
from app.domain.cert_session_rules import check_city, check_postal_code
from app.domain.errors import DomainError
from app.models import Fund
from app.models.organizations import ORGANIZATION_KIND_LABELS, OrganizationKind

# La Poste's establishments share SIREN 356000000 and most do not follow the Luhn key
# (REFERENCE §5): their SIRET's digits add up to a multiple of 5 instead
LA_POSTE_SIREN = "356000000"
URSSAF_MONTHS = 6

# the towns the reference knows by postal code; elsewhere any name in letters is accepted
KNOWN_CITIES = {
    "67000": "Strasbourg",
    "67100": "Strasbourg",
    "67200": "Strasbourg",
    "67500": "Haguenau",
    "68100": "Mulhouse",
    "68000": "Colmar",
    "57000": "Metz",
    "20000": "Ajaccio",
    "20090": "Ajaccio",
    "20200": "Bastia",
    "33000": "Bordeaux",
    "31000": "Toulouse",
    "44000": "Nantes",
    "59000": "Lille",
    "06000": "Nice",
    "35000": "Rennes",
    "97400": "Saint-Denis",
    **{f"750{n:02d}": "Paris" for n in range(1, 21)},
    "75116": "Paris",
    **{f"690{n:02d}": "Lyon" for n in range(1, 10)},
    **{f"130{n:02d}": "Marseille" for n in range(1, 17)},
}

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: \d takes any script's digits


def digits_of(value: str | None) -> str:
    """What was typed without its spaces and dots (a SIRET is often typed by groups)."""
    return re.sub(r"[\s.]", "", value or "")


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def check_siret(value: str | None) -> str | None:
    siret = digits_of(value)
    if not siret:
        return None
    if not _DIGITS.fullmatch(siret) or len(siret) != 14:
        return "Le SIRET doit comporter 14 chiffres."
    if luhn_valid(siret):
        return None
    if siret.startswith(LA_POSTE_SIREN) and sum(int(c) for c in siret) % 5 == 0:
        return None
    return (
        "Ce SIRET n'existe pas : sa clé de contrôle est fausse. "
        "Vérifiez-le sur votre avis de situation Insee."
    )


def check_activity_number(value: str | None, kind: str | None) -> str | None:
    """Numéro de déclaration d'activité: 11 digits, for a training organisation only."""
    number = digits_of(value)
    if kind != OrganizationKind.TRAINING:
        if number:
            return (
                "Le numéro de déclaration d'activité ne concerne que les organismes de formation."
            )
        return None
    if not number:
        return None
    if not _DIGITS.fullmatch(number) or len(number) != 11:
        return "Le numéro de déclaration d'activité doit comporter 11 chiffres."
    return None


def check_kind(kind: str | None) -> str | None:
    if kind and kind not in ORGANIZATION_KIND_LABELS:
        return "Choisissez un type d'entité de la liste."
    return None


def caisse_for(db: Session, postal_code: str | None) -> Fund | None:
    """The caisse that instructs a request from this postal code, or None."""
    if not (postal_code or "").strip():
        return None
    try:
        return fund_for_postal_code(db, postal_code)[1]
    except DomainError:
        return None


def _plain(name: str) -> str:
    """A town's name without accents, case, hyphens or 'St' abbreviations."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    words = re.sub(r"[^A-Z]+", " ", text).split()
    return " ".join("SAINT" if w == "ST" else "SAINTE" if w == "STE" else w for w in words)


def check_city_matches(postal_code: str | None, city: str | None) -> str | None:
    """The town typed must be the one the reference knows for this postal code (if any)."""
    if message := check_city(city):
        return message
    known = KNOWN_CITIES.get((postal_code or "").strip())
    if known and (city or "").strip() and _plain(city) != _plain(known):
        return f"Le code postal {postal_code.strip()} est celui de {known}, pas de {city.strip()}."
    return None


def check_urssaf_date(issued_on: date | None, on: date | None = None) -> str | None:
    """The URSSAF attestation must be less than 6 months old (and not dated in the future)."""
    if issued_on is None:
        return None
    on = on or today()
    if issued_on > on:
        return "La date de l'attestation URSSAF ne peut pas être dans le futur."
    if issued_on <= on - relativedelta(months=URSSAF_MONTHS):
        limit = (on - relativedelta(months=URSSAF_MONTHS) + relativedelta(days=1)).strftime(
            "%d/%m/%Y"
        )
        return (
            f"L'attestation URSSAF doit dater de moins de {URSSAF_MONTHS} mois "
            f"(du {limit} ou après) : demandez-en une récente à l'URSSAF."
        )
    return None


def check_length(value: str | None, limit: int, label: str) -> str | None:
    if value and len(value.strip()) > limit:
        return f"{label} ne doit pas dépasser {limit} caractères."
    return None


@dataclass
class RequestFields:
    """What the requester types, step 1 then step 2 (the attestation file aside)."""

    kind: str | None = None
    name: str | None = None
    regime: str | None = None
    siret: str | None = None
    activity_number: str | None = None
    urssaf_issued_on: date | None = None
    address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    signatory_last_name: str | None = None
    signatory_first_name: str | None = None
    signatory_function: str | None = None


STEP_FIELDS = {
    1: (
        "kind",
        "name",
        "regime",
        "siret",
        "activity_number",
        "urssaf_file",
        "urssaf_issued_on",
        "address",
        "postal_code",
        "city",
    ),
    2: ("signatory_last_name", "signatory_first_name", "signatory_function"),
}

REQUIRED_MESSAGES = {
    "kind": "Choisissez le type d'entité.",
    "name": "La raison sociale doit être renseignée.",
    "regime": "Le régime doit être renseigné.",
    "siret": "Le SIRET doit être renseigné.",
    "activity_number": "Le numéro de déclaration d'activité doit être renseigné "
    "pour un organisme de formation.",
    "urssaf_file": "Joignez l'attestation URSSAF au format PDF.",
    "urssaf_issued_on": "La date de l'attestation URSSAF doit être renseignée.",
    "address": "L'adresse doit être renseignée.",
    "postal_code": "Le code postal doit être renseigné.",
    "city": "La ville doit être renseignée.",
    "signatory_last_name": "Le nom du signataire doit être renseigné.",
    "signatory_first_name": "Le prénom du signataire doit être renseigné.",
    "signatory_function": "La fonction du signataire doit être renseignée.",
}

LENGTHS = {
    "name": (200, "La raison sociale"),
    "regime": (100, "Le régime"),
    "address": (250, "L'adresse"),
    "signatory_last_name": (100, "Le nom"),
    "signatory_first_name": (100, "Le prénom"),
    "signatory_function": (100, "La fonction"),
}


def check_request_fields(
    db: Session,
    values: RequestFields,
    *,
    has_attestation: bool = False,
    complete: bool = False,
) -> dict[str, str]:
    """{field: French message}. With `complete` (submitting), empty fields are errors too;
    otherwise only what was typed is checked (saving a draft, the live check)."""
    errors: dict[str, str] = {}
    for name, (limit, label) in LENGTHS.items():
        if message := check_length(getattr(values, name), limit, label):
            errors[name] = message
    checks = {
        "kind": check_kind(values.kind),
        "siret": check_siret(values.siret),
        "activity_number": check_activity_number(values.activity_number, values.kind),
        "urssaf_issued_on": check_urssaf_date(values.urssaf_issued_on),
        "postal_code": check_postal_code(db, values.postal_code),
        "city": check_city_matches(values.postal_code, values.city),
    }
    errors.update({name: message for name, message in checks.items() if message})
    if complete:
        for field in fields(RequestFields):
            value = getattr(values, field.name)
            if field.name == "activity_number" and values.kind != OrganizationKind.TRAINING:
                continue
            if (value.strip() if isinstance(value, str) else value) in (None, ""):
                errors.setdefault(field.name, REQUIRED_MESSAGES[field.name])
        if not has_attestation:
            errors.setdefault("urssaf_file", REQUIRED_MESSAGES["urssaf_file"])
    return errors
