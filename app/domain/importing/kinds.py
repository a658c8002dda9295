"""The five kinds of import file and what one line of each does.

Each line is found by its natural key and created, updated or left unchanged (the same
file imported twice changes nothing the second time), or refused with its reason in
French. The rules are the app's own: SIRET, numéro de déclaration d'activité, postal code
→ caisse (organization_rules), Forprev numbers (identifiers), accreditation numbers
(accreditation_numbers), e-mail and birth date (accounts, organization_changes).
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain.accounts import check_birth_date
from app.domain.accreditation_numbers import accreditation_number
from app.domain.audit import record_event
from app.domain.caisse_routing import fund_for_postal_code
from app.domain.certificate_issue import valid_until as end_after_validity
from app.domain.errors import DomainError
from app.domain.identifiers import is_forprev_number, normalize_forprev_number
from app.domain.importing.csvfile import (
    MAX_YEAR,
    LineRefused,
    Record,
    optional_date,
    parse_date,
    required,
)
from app.domain.organization_changes import check_email
from app.domain.organization_instruction import _next_code
from app.domain.organization_rules import (
    check_activity_number,
    check_city_matches,
    check_length,
    check_siret,
    digits_of,
)
from app.domain.trainer_check import find_person_by_identity
from app.models import (
    Accreditation,
    Certificate,
    CertificateModel,
    Fund,
    Organization,
    Person,
    Qualification,
    RoleGrant,
    Scheme,
    SchemeLevel,
)
from app.models.organizations import (
    ORGANIZATION_KIND_LETTERS,
    OrganizationKind,
    OrganizationStatus,
)
from app.models.people import Role
from app.text import fold

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass
class Context:
    """What every line of a run shares: the db, who runs it, and the catalogue read once."""

    db: Session
    run_id: int
    actor_id: int | None
    levels: dict[tuple[str, int], SchemeLevel] = field(default_factory=dict)
    schemes: dict[str, Scheme] = field(default_factory=dict)
    funds: dict[str, Fund] = field(default_factory=dict)
    models: dict[int, list[CertificateModel]] = field(default_factory=dict)
    # entites: the highest code the file gives (a line without code gets one above it),
    # the SIRET of its lines with a code, and those of its lines without one already read
    top_code: int = 0
    coded_sirets: dict[str, tuple[int, str]] = field(default_factory=dict)
    codeless_sirets: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, db: Session, run_id: int, actor_id: int | None) -> "Context":
        ctx = cls(db=db, run_id=run_id, actor_id=actor_id)
        for level, scheme in db.exec(
            select(SchemeLevel, Scheme).join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        ).all():
            ctx.schemes[scheme.code.upper()] = scheme
            ctx.levels[(scheme.code.upper(), level.level)] = level
        ctx.funds = {f.code.upper(): f for f in db.exec(select(Fund)).all()}
        for model in db.exec(
            select(CertificateModel)
            .where(CertificateModel.active.is_(True))
            .order_by(CertificateModel.id)
        ).all():
            ctx.models.setdefault(model.scheme_level_id, []).append(model)
        return ctx

    def audit(self, action: str, object_type: str, object_id: int, line: int, **data) -> None:
        record_event(
            self.db,
            actor_id=self.actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            data={"import_run_id": self.run_id, "ligne": line, **data},
        )

    def scheme_level(self, scheme_code: str, level_text: str) -> SchemeLevel:
        code = scheme_code.strip().upper()
        if code not in self.schemes:
            raise LineRefused(f"dispositif inconnu : {scheme_code}")
        if not re.fullmatch(r"[0-9]", level_text.strip()):
            raise LineRefused(f"niveau illisible : {level_text} (1, 2 ou 3)")
        level = self.levels.get((code, int(level_text)))
        if level is None:
            raise LineRefused(f"niveau inconnu : {code} n'a pas de niveau {level_text}")
        return level


def _changed(obj, values: dict) -> bool:
    """Set `values` on `obj`; True when one of them differs from what it held."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _person(ctx: Context, number_text: str) -> Person:
    number = normalize_forprev_number(number_text)
    if not is_forprev_number(number):
        raise LineRefused(
            f"numéro Forprev invalide : {number_text} (3 lettres et 5 chiffres, "
            "par exemple JKA37899)"
        )
    # a record merged into another: its number finds the one kept
    person = find_person_by_identity(ctx.db, forprev_number=number)
    if person is None:
        raise LineRefused(
            f"personne inconnue : {number} (importez d'abord le fichier des personnes)"
        )
    return person


def _entity(ctx: Context, code_text: str) -> Organization:
    code = code_text.strip()
    organization = ctx.db.exec(select(Organization).where(Organization.code == code)).first()
    if organization is None:
        raise LineRefused(f"entité inconnue : {code} (importez d'abord le fichier des entités)")
    return organization


# --- entites ----------------------------------------------------------------------------

ORGANIZATION_KIND_WORDS = {
    "organisme_formation": OrganizationKind.TRAINING,
    "organisme_de_formation": OrganizationKind.TRAINING,
    "of": OrganizationKind.TRAINING,
    "entreprise": OrganizationKind.COMPANY,
    "ent": OrganizationKind.COMPANY,
    "collectivite": OrganizationKind.AUTHORITY,
    "autre": OrganizationKind.OTHER,
}


ENTITY_CODE = re.compile(r"[0-9]{5}")


def survey_entities(ctx: Context, records: Iterable[Record], keys: list[str]) -> None:
    """Before any line: the codes the file gives and the SIRET of those lines. A line
    without code then gets a code above them all (never one a later line names), and is
    found again by its SIRET on the next run."""
    for record in records:
        values = record.values or dict(zip(keys, record.fields, strict=False))
        code = values.get("code", "").strip()
        if ENTITY_CODE.fullmatch(code):
            ctx.top_code = max(ctx.top_code, int(code))
            siret = digits_of(values.get("siret", ""))
            if siret:
                ctx.coded_sirets.setdefault(siret, (record.number, code))


def _new_code(ctx: Context) -> str:
    """The next code above every code of the database and of the file."""
    try:
        number = max(int(_next_code(ctx.db)), ctx.top_code + 1)
    except DomainError:
        number = 100000
    if number > 99999:
        raise LineRefused("plus aucun code d'entité libre : donnez son code à la ligne")
    return f"{number:05d}"


def import_entity(ctx: Context, line: int, values: dict[str, str]) -> str:
    db = ctx.db
    code = values["code"]
    if code and not ENTITY_CODE.fullmatch(code):
        raise LineRefused(f"code d'entité invalide : {code} (5 chiffres)")
    name = required(values, "raison_sociale")
    if problem := check_length(name, 200, "La raison sociale"):
        raise LineRefused(problem)
    kind_text = required(values, "type")
    kind = ORGANIZATION_KIND_WORDS.get(re.sub(r"\s+", "_", fold(kind_text)))
    if kind is None:
        raise LineRefused(
            f"type d'entité inconnu : {kind_text} "
            "(organisme_formation, entreprise, collectivite ou autre)"
        )
    siret_text = required(values, "siret")
    if problem := check_siret(siret_text):
        raise LineRefused(f"SIRET invalide : {siret_text} — {problem}")
    siret = digits_of(siret_text)
    activity = digits_of(values["nda"]) or None
    if kind == OrganizationKind.TRAINING and not activity:
        raise LineRefused("valeur manquante : nda (organisme de formation)")
    if problem := check_activity_number(values["nda"], kind):
        raise LineRefused(f"NDA invalide : {values['nda']} — {problem}")
    address = required(values, "adresse")
    if problem := check_length(address, 250, "L'adresse"):
        raise LineRefused(problem)
    postal_code = required(values, "code_postal")
    try:
        department, fund = fund_for_postal_code(db, postal_code)
    except DomainError as exc:
        raise LineRefused(f"code postal refusé : {exc.message}") from None
    city = required(values, "ville")
    if problem := check_city_matches(postal_code, city):
        raise LineRefused(f"ville refusée : {problem}")

    if code:
        organization = db.exec(select(Organization).where(Organization.code == code)).first()
    else:  # no code: the entity of this SIRET (its key on a second run), else a new one
        if siret in ctx.coded_sirets:
            coded_line, coded = ctx.coded_sirets[siret]
            raise LineRefused(
                f"le SIRET {siret} est celui de la ligne {coded_line}, code {coded} : "
                "mettez ce code sur la ligne"
            )
        if siret in ctx.codeless_sirets:
            raise LineRefused(
                "SIRET en double dans le fichier : déjà celui de la ligne "
                f"{ctx.codeless_sirets[siret]} ({siret})"
            )
        ctx.codeless_sirets[siret] = line
        organization = db.exec(
            select(Organization)
            .where(Organization.siret == siret, Organization.code.is_not(None))
            .order_by(Organization.id)
        ).first()
    wanted = {
        "name": name,
        "kind": kind.value,
        "siret": siret,
        "activity_number": activity,
        "address": address,
        "postal_code": postal_code,
        "city": city,
        "department_code": department.code,
        "fund_id": fund.id,
        "status": OrganizationStatus.VALIDATED.value,
    }
    now = utcnow()
    if organization is None:
        organization = Organization(
            code=code or _new_code(ctx),
            created_at=now,
            updated_at=now,
            validated_at=now,
            **wanted,
        )
        db.add(organization)
        db.flush()
        ctx.audit("import.organization_created", "organization", organization.id, line)
        return CREATED
    before = {k: getattr(organization, k) for k in wanted}
    if not _changed(organization, wanted):
        return UNCHANGED
    organization.updated_at = now
    organization.validated_at = organization.validated_at or now
    organization.version += 1
    db.add(organization)
    db.flush()
    ctx.audit(
        "import.organization_updated",
        "organization",
        organization.id,
        line,
        before={k: v for k, v in before.items() if v != wanted[k]},
    )
    return UPDATED


# --- personnes --------------------------------------------------------------------------


def import_person(ctx: Context, line: int, values: dict[str, str]) -> str:
    db = ctx.db
    number_text = required(values, "numero_forprev")
    number = normalize_forprev_number(number_text)
    if not is_forprev_number(number):
        raise LineRefused(
            f"numéro Forprev invalide : {number_text} (3 lettres et 5 chiffres, "
            "par exemple JKA37899)"
        )
    last_name = required(values, "nom").upper()
    first_name = required(values, "prenom")
    for value, label in ((last_name, "Le nom"), (first_name, "Le prénom")):
        if problem := check_length(value, 100, label):
            raise LineRefused(problem)
    birth_date = optional_date(values["date_naissance"], "date_naissance")
    if birth_date is not None and (problem := check_birth_date(birth_date)):
        raise LineRefused(f"date de naissance refusée : {values['date_naissance']} — {problem}")
    email = required(values, "email").lower()
    if check_email(email):
        raise LineRefused(f"adresse e-mail invalide : {email}")
    person = db.exec(select(Person).where(Person.forprev_number == number)).first()
    if person is not None and person.merged_into_id is not None:
        kept = db.get(Person, person.merged_into_id)
        raise LineRefused(
            f"le numéro {number} a été fusionné dans {kept.forprev_number} : "
            "mettez ce numéro sur la ligne"
        )
    holder = db.exec(select(Person).where(Person.email == email)).first()
    if holder is not None and (person is None or holder.id != person.id):
        raise LineRefused(
            f"personne en double : l'adresse {email} est celle de {holder.forprev_number}"
        )
    wanted = {
        "last_name": last_name,
        "first_name": first_name,
        "birth_date": birth_date,
        "email": email,
    }
    if person is None:
        # no password yet: "Mot de passe oublié" sends the link that sets the first one
        person = Person(forprev_number=number, active=False, **wanted)
        db.add(person)
        db.flush()
        ctx.audit("import.person_created", "person", person.id, line)
        return CREATED
    before = {k: getattr(person, k) for k in wanted}
    if not _changed(person, wanted):
        return UNCHANGED
    db.add(person)
    db.flush()
    ctx.audit(
        "import.person_updated",
        "person",
        person.id,
        line,
        before={k: str(v) if v else v for k, v in before.items() if v != wanted[k]},
    )
    return UPDATED


# --- roles ------------------------------------------------------------------------------

ROLE_WORDS = {
    "gestionnaire": Role.GESTIONNAIRE,
    "delegataire": Role.DELEGATAIRE,
    "formateur": Role.FORMATEUR,
    "instructeur": Role.INSTRUCTEUR,
}


def _trainer_qualified(db: Session, person_id: int) -> bool:
    """A valid level-2-or-more certificate or qualification: what makes a formateur."""
    on = today()
    certificate = db.exec(
        select(Certificate.id)
        .join(SchemeLevel, SchemeLevel.id == Certificate.scheme_level_id)
        .where(
            Certificate.person_id == person_id,
            Certificate.valid_until >= on,
            SchemeLevel.level >= 2,
        )
    ).first()
    if certificate is not None:
        return True
    qualification = db.exec(
        select(Qualification.id)
        .join(CertificateModel, CertificateModel.id == Qualification.certificate_model_id)
        .join(SchemeLevel, SchemeLevel.id == CertificateModel.scheme_level_id)
        .where(
            Qualification.person_id == person_id,
            Qualification.valid_from <= on,
            Qualification.valid_until >= on,
            SchemeLevel.level >= 2,
        )
    ).first()
    return qualification is not None


def _grant(ctx: Context, line: int, person: Person, role: Role, **scope) -> str:
    db = ctx.db
    grant = db.exec(
        select(RoleGrant).where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == role,
            RoleGrant.organization_id == scope.get("organization_id"),
            RoleGrant.fund_id == scope.get("fund_id"),
        )
    ).first()
    if grant is not None and grant.active:
        return UNCHANGED
    outcome = UPDATED if grant is not None else CREATED
    if grant is None:
        grant = RoleGrant(person_id=person.id, role=role, **scope)
    grant.active = True
    db.add(grant)
    db.flush()
    ctx.audit(f"import.role_{outcome}", "person", person.id, line, role=role.value, **scope)
    return outcome


def import_role(ctx: Context, line: int, values: dict[str, str]) -> str:
    person = _person(ctx, required(values, "numero_forprev"))
    role_text = required(values, "role")
    role = ROLE_WORDS.get(fold(role_text))
    if role is None:
        raise LineRefused(
            f"rôle inconnu : {role_text} (gestionnaire, delegataire, formateur ou instructeur)"
        )
    entity_code, fund_code = values["code_entite"], values["code_caisse"].upper()
    fund = None
    if fund_code:
        fund = ctx.funds.get(fund_code)
        if fund is None:
            raise LineRefused(f"caisse inconnue : {values['code_caisse']}")
    if role in (Role.GESTIONNAIRE, Role.DELEGATAIRE):
        if not entity_code:
            raise LineRefused(f"valeur manquante : code_entite (rôle {role.value})")
        if fund is not None:
            raise LineRefused(f"code_caisse ne concerne pas le rôle {role.value} : laissez-le vide")
        organization = _entity(ctx, entity_code)
        return _grant(ctx, line, person, role, organization_id=organization.id)
    if entity_code:
        raise LineRefused(f"code_entite ne concerne pas le rôle {role.value} : laissez-le vide")
    if role == Role.INSTRUCTEUR:
        if fund is None:
            raise LineRefused("valeur manquante : code_caisse (rôle instructeur)")
        return _grant(ctx, line, person, role, fund_id=fund.id)
    # formateur: held with a valid trainer's certificate; the caisse is their rattachement
    if not _trainer_qualified(ctx.db, person.id):
        raise LineRefused(
            f"{person.forprev_number} n'a aucun certificat de formateur valide : importez "
            "d'abord ses certificats (fichier certificats)"
        )
    outcome = _grant(ctx, line, person, role)
    if fund is not None and person.trainer_fund_id != fund.id:
        person.trainer_fund_id = fund.id
        ctx.db.add(person)
        ctx.db.flush()
        if outcome == UNCHANGED:
            ctx.audit("import.trainer_fund", "person", person.id, line, fund_id=fund.id)
            outcome = UPDATED
    return outcome


# --- habilitations ----------------------------------------------------------------------

NUMBER = re.compile(r"H([0-9]{5})/([0-9]{4})/(.+)-([0-9])/([OECA])/([0-9]{2})")
KIND_OF_LETTER = {letter: kind for kind, letter in ORGANIZATION_KIND_LETTERS.items()}


def import_accreditation(ctx: Context, line: int, values: dict[str, str]) -> str:
    db = ctx.db
    number_text = required(values, "numero")
    match = NUMBER.fullmatch(number_text.strip().upper())
    if not match:
        raise LineRefused(
            f"numéro d'habilitation invalide : {number_text} (par exemple H30160/2020/CATEC-1/C/00)"
        )
    code, year, scheme_code, level_text, letter, sequence = match.groups()
    level = ctx.scheme_level(required(values, "dispositif"), required(values, "niveau"))
    scheme = db.get(Scheme, level.scheme_id)
    if (scheme_code, int(level_text)) != (scheme.code.upper(), level.level):
        raise LineRefused(
            f"le numéro {number_text} n'est pas celui d'une habilitation "
            f"{scheme.code}-{level.level}"
        )
    entity_code = required(values, "code_entite")
    if code != entity_code:
        raise LineRefused(f"le numéro {number_text} n'est pas celui de l'entité {entity_code}")
    organization = _entity(ctx, entity_code)
    # the letter is the entity's type at the decision (it may have changed since): kept
    number = accreditation_number(
        entity_code=code,
        year=int(year),
        scheme_code=scheme.code,
        level=level.level,
        organization_kind=KIND_OF_LETTER[letter],
        sequence=int(sequence),
    )
    start = parse_date(required(values, "date_debut"), "date_debut")
    end = parse_date(required(values, "date_fin"), "date_fin")
    if end <= start:
        raise LineRefused(
            f"la date de fin ({end:%d/%m/%Y}) doit suivre la date de début ({start:%d/%m/%Y})"
        )
    existing = db.exec(select(Accreditation).where(Accreditation.number == number)).first()
    if existing is not None and (
        existing.organization_id != organization.id or existing.scheme_level_id != level.id
    ):
        raise LineRefused(f"le numéro {number} est déjà celui d'une autre habilitation")
    others = select(Accreditation).where(
        Accreditation.organization_id == organization.id,
        Accreditation.scheme_level_id == level.id,
        Accreditation.number != number,
    )
    overlapping = db.exec(
        others.where(Accreditation.start_date <= end, Accreditation.end_date >= start).order_by(
            Accreditation.start_date
        )
    ).first()
    if overlapping is not None:
        raise LineRefused(
            f"habilitation qui chevauche {overlapping.number} "
            f"(du {overlapping.start_date:%d/%m/%Y} au {overlapping.end_date:%d/%m/%Y})"
        )
    same_sequence = db.exec(others.where(Accreditation.sequence == int(sequence))).first()
    if same_sequence is not None:
        raise LineRefused(
            f"le rang {sequence} de cette habilitation est déjà celui de {same_sequence.number}"
        )
    if existing is None:
        accreditation = Accreditation(
            number=number,
            organization_id=organization.id,
            scheme_level_id=level.id,
            sequence=int(sequence),
            start_date=start,
            end_date=end,
        )
        db.add(accreditation)
        db.flush()
        ctx.audit("import.accreditation_created", "accreditation", accreditation.id, line)
        return CREATED
    before = (existing.start_date, existing.end_date)
    if not _changed(existing, {"start_date": start, "end_date": end}):
        return UNCHANGED
    existing.version += 1
    db.add(existing)
    db.flush()
    ctx.audit(
        "import.accreditation_updated",
        "accreditation",
        existing.id,
        line,
        before=[d.isoformat() for d in before],
    )
    return UPDATED


# --- certificats ------------------------------------------------------------------------


def _model(ctx: Context, level: SchemeLevel, label: str, name: str) -> CertificateModel:
    models = ctx.models.get(level.id, [])
    if not name:
        if len(models) == 1:
            return models[0]
        names = " ou ".join(f"« {m.name} »" for m in models) or "aucun"
        raise LineRefused(f"valeur manquante : modele ({label} : {names})")
    for model in models:
        if fold(model.name) == fold(name):
            return model
    raise LineRefused(f"modèle inconnu pour {label} : {name}")


def _end_of_validity(start: date, model: CertificateModel) -> date:
    """The model's validity from `start`, or LineRefused when it leaves the app's years."""
    try:
        end = end_after_validity(start, model)
    except (ValueError, OverflowError):
        end = None
    if end is None or end.year > MAX_YEAR:
        raise LineRefused(
            f"date de fin calculée hors des années admises : {start:%d/%m/%Y} + "
            f"{model.validity_months} mois dépasse {MAX_YEAR} — indiquez date_fin"
        )
    return end


def import_certificate(ctx: Context, line: int, values: dict[str, str]) -> str:
    db = ctx.db
    person = _person(ctx, required(values, "numero_forprev"))
    level = ctx.scheme_level(required(values, "dispositif"), required(values, "niveau"))
    scheme = db.get(Scheme, level.scheme_id)
    label = f"{scheme.code}-{level.level}"
    if level.level < 2:
        raise LineRefused(
            f"certificat d'acteur ({label}) : seuls les certificats de formateur "
            "(niveau 2 ou 3) sont repris"
        )
    model = _model(ctx, level, label, values["modele"])
    start = parse_date(required(values, "date_debut"), "date_debut")
    end = optional_date(values["date_fin"], "date_fin") or _end_of_validity(start, model)
    if end <= start:
        raise LineRefused(
            f"la date de fin ({end:%d/%m/%Y}) doit suivre la date de début ({start:%d/%m/%Y})"
        )
    qualification = db.exec(
        select(Qualification).where(
            Qualification.person_id == person.id,
            Qualification.certificate_model_id == model.id,
            Qualification.valid_from == start,
        )
    ).first()
    if qualification is None:
        qualification = Qualification(
            person_id=person.id,
            certificate_model_id=model.id,
            valid_from=start,
            valid_until=end,
            source="import",
            recorded_by_id=ctx.actor_id,
        )
        db.add(qualification)
        db.flush()
        outcome = CREATED
    elif qualification.valid_until != end:
        before = qualification.valid_until
        qualification.valid_until = end
        db.add(qualification)
        db.flush()
        outcome = UPDATED
    else:
        outcome = UNCHANGED
    if outcome != UNCHANGED:
        ctx.audit(
            f"import.qualification_{outcome}",
            "person",
            person.id,
            line,
            qualification_id=qualification.id,
            **({"before": before.isoformat()} if outcome == UPDATED else {}),
        )
    # a valid trainer's certificate makes a formateur (as one issued in a session does)
    if start <= today() <= end:
        has_role = db.exec(
            select(RoleGrant).where(
                RoleGrant.person_id == person.id,
                RoleGrant.role == Role.FORMATEUR,
                RoleGrant.organization_id.is_(None),
                RoleGrant.fund_id.is_(None),
            )
        ).first()
        if has_role is None:
            db.add(RoleGrant(person_id=person.id, role=Role.FORMATEUR))
            db.flush()
    return outcome


# --- the kinds --------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    columns: tuple[str, ...]
    handler: Callable[[Context, int, dict[str, str]], str]
    # a first reading of the file's records before its lines are imported
    survey: Callable[[Context, Iterable[Record], list[str]], None] | None = None


KINDS = {
    kind.code: kind
    for kind in (
        Kind(
            "entites",
            "Entités",
            (
                "code",
                "raison_sociale",
                "type",
                "siret",
                "nda",
                "adresse",
                "code_postal",
                "ville",
            ),
            import_entity,
            survey_entities,
        ),
        Kind(
            "personnes",
            "Personnes",
            ("numero_forprev", "nom", "prenom", "date_naissance", "email"),
            import_person,
        ),
        Kind(
            "roles",
            "Rôles",
            ("numero_forprev", "role", "code_entite", "code_caisse"),
            import_role,
        ),
        Kind(
            "habilitations",
            "Habilitations",
            ("numero", "code_entite", "dispositif", "niveau", "date_debut", "date_fin"),
            import_accreditation,
        ),
        Kind(
            "certificats",
            "Certificats de formateur",
            ("numero_forprev", "dispositif", "niveau", "modele", "date_debut", "date_fin"),
            import_certificate,
        ),
    )
}
