"""The life of an accreditation request (SPEC §5), in one place.

Brouillon → (Soumettre) → Dossier administratif complet → (Commencer l'instruction)
→ Instruction en cours phase 1 → (Complet) → Instruction en cours phase 2 → (Complet)
→ Décision CNH en cours → (Décision favorable | défavorable).
"Incomplet" (dossier complet, phase 1 or 2) sends it back to the entity with a comment:
À compléter par l'entité → (Soumettre) → the phase it came from.
The entity may abandon a draft or a request sent back to it.

The gestionnaire prepares and submits; the instructor of the request's caisse instructs;
the administrator records the CNH decision. Every change names the version it read
(optimistic concurrency: ConflictError, nothing written), writes an audit event and tells
the next actor.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import and_, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.clock import to_paris, today, utcnow
from app.domain.access import ActiveRole
from app.domain.accreditation_numbers import accreditation_number
from app.domain.audit import record_event
from app.domain.cert_session_rules import check_postal_code
from app.domain.errors import ConflictError, DomainError
from app.domain.notifications import close_tasks, grant_for, notify
from app.domain.uploads import store_upload
from app.models import (
    Accreditation,
    AccreditationRequest,
    AuditEvent,
    DocumentRequirement,
    Equipment,
    Notification,
    Organization,
    Person,
    Platform,
    RequestDocument,
    RoleGrant,
    Scheme,
    SchemeLevel,
    StoredFile,
)
from app.models.accreditations import (
    OPEN_REQUEST_PHASES,
    REQUEST_PHASE_LABELS,
    RequestKind,
    RequestPhase,
)
from app.models.people import Role

ENTITY_ROLES = frozenset({Role.GESTIONNAIRE})
INSTRUCTOR_ROLES = frozenset({Role.INSTRUCTEUR})
CNH_ROLES = frozenset({Role.ADMINISTRATEUR})
RENEWAL_MONTHS = 12  # REFERENCE §3: renewal may be requested from 12 months before the end
COMMENT_MAX = 2000
CONFLICT = (
    "Quelqu'un a modifié cette demande pendant que vous la consultiez : vos changements "
    "n'ont pas été enregistrés. Rechargez la page pour voir la dernière version."
)
# the 4-step progress bar (SPEC §5), and the step each phase stands at
STEPS = [
    RequestPhase.FILE_COMPLETE,
    RequestPhase.PHASE_1,
    RequestPhase.PHASE_2,
    RequestPhase.CNH,
]
# a number taken by a decision committed in between: try the next sequence
NUMBER_ATTEMPTS = 5


class Action(StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    ABANDON = "abandon"
    START = "start"  # the instructor opens phase 1
    COMPLETE = "complete"  # phase 1 → phase 2, phase 2 → CNH
    INCOMPLETE = "incomplete"  # back to the entity with a comment
    DECIDE = "decide"  # the CNH's decision, recorded by the administrator


@dataclass(frozen=True)
class Transition:
    sources: frozenset
    roles: frozenset


_EDITABLE = frozenset({RequestPhase.DRAFT, RequestPhase.RETURNED})
TRANSITIONS = {
    Action.EDIT: Transition(_EDITABLE, ENTITY_ROLES),
    Action.SUBMIT: Transition(_EDITABLE, ENTITY_ROLES),
    Action.ABANDON: Transition(_EDITABLE, ENTITY_ROLES),
    Action.START: Transition(frozenset({RequestPhase.FILE_COMPLETE}), INSTRUCTOR_ROLES),
    Action.COMPLETE: Transition(
        frozenset({RequestPhase.PHASE_1, RequestPhase.PHASE_2}), INSTRUCTOR_ROLES
    ),
    Action.INCOMPLETE: Transition(
        frozenset({RequestPhase.FILE_COMPLETE, RequestPhase.PHASE_1, RequestPhase.PHASE_2}),
        INSTRUCTOR_ROLES,
    ),
    Action.DECIDE: Transition(frozenset({RequestPhase.CNH}), CNH_ROLES),
}
NEXT_PHASE = {
    RequestPhase.FILE_COMPLETE: RequestPhase.PHASE_1,
    RequestPhase.PHASE_1: RequestPhase.PHASE_2,
    RequestPhase.PHASE_2: RequestPhase.CNH,
}


def allowed(role: ActiveRole, request: AccreditationRequest, action: Action) -> bool:
    rule = TRANSITIONS[action]
    return request.phase in rule.sources and role.role in rule.roles and _owns(role, request)


def _owns(role: ActiveRole, request: AccreditationRequest) -> bool:
    """The entity's gestionnaires act on its requests, its caisse's instructors instruct
    them: a role of another entity or caisse is refused here too, not only by the views."""
    if role.role == Role.GESTIONNAIRE:
        return role.organization_id == request.organization_id
    if role.role == Role.INSTRUCTEUR:
        return role.fund_id == request.fund_id
    return True


def allowed_actions(role: ActiveRole, request: AccreditationRequest) -> set[Action]:
    return {a for a in Action if allowed(role, request, a)}


def _require(role: ActiveRole, request: AccreditationRequest, action: Action) -> None:
    if not allowed(role, request, action):
        phase = REQUEST_PHASE_LABELS[RequestPhase(request.phase)]
        raise DomainError(f"Cette action n'est pas possible sur une demande « {phase} ».")


def step_of(request: AccreditationRequest) -> int:
    """The progress bar's current step, 1 to 4; 0 for a draft, 5 once decided."""
    phase = RequestPhase(request.phase)
    if phase in (RequestPhase.DRAFT, RequestPhase.ABANDONED):
        return 0
    if phase == RequestPhase.RETURNED:
        return STEPS.index(RequestPhase(request.returned_from)) + 1
    if phase in (RequestPhase.FAVOURABLE, RequestPhase.UNFAVOURABLE):
        return 5
    return STEPS.index(phase) + 1


# --- who sees what ----------------------------------------------------------------------


def request_scope(role: ActiveRole):
    """The requests the active role may open: the gestionnaire's entity's; the instructor's
    caisse's once submitted; every submitted one for an administrator."""
    submitted = AccreditationRequest.submitted_at.is_not(None)
    if role.role == Role.GESTIONNAIRE:
        return AccreditationRequest.organization_id == role.organization_id
    if role.role == Role.INSTRUCTEUR:
        return and_(AccreditationRequest.fund_id == role.fund_id, submitted)
    if role.role == Role.ADMINISTRATEUR:
        return submitted
    return AccreditationRequest.id.is_(None)


def get_for_role(db: Session, role: ActiveRole, request_id: int) -> AccreditationRequest | None:
    return db.exec(
        select(AccreditationRequest).where(
            AccreditationRequest.id == request_id, request_scope(role)
        )
    ).first()


def accreditation_scope_for_caisse(role: ActiveRole):
    """The accreditations an instructor (their caisse's entities) or an administrator
    (every one) may open, to suspend them or approve a platform."""
    if role.role == Role.INSTRUCTEUR:
        return Accreditation.organization_id.in_(
            select(Organization.id).where(Organization.fund_id == role.fund_id)
        )
    if role.role == Role.ADMINISTRATEUR:
        return Accreditation.id.is_not(None)
    return Accreditation.id.is_(None)


# --- writing ----------------------------------------------------------------------------


def _write(db: Session, request: AccreditationRequest, version: int, **values) -> None:
    """Apply `values` only if the request is still at `version`; bump it."""
    done = db.exec(
        update(AccreditationRequest)
        .where(AccreditationRequest.id == request.id, AccreditationRequest.version == version)
        .values(version=AccreditationRequest.version + 1, updated_at=utcnow(), **values)
    ).rowcount
    if not done:
        db.rollback()
        raise ConflictError(CONFLICT)
    db.refresh(request)


def _audit(db, role, request, action, before, after=None, comment=None, data=None):
    record_event(
        db,
        actor_id=role.person_id if role else None,
        action=f"accreditation_request.{action}",
        object_type="accreditation_request",
        object_id=request.id,
        from_state=before,
        to_state=after or before,
        comment=comment,
        data=data,
    )


def _comment(comment: str | None, *, required: bool, field: str = "comment") -> str | None:
    # a browser sends each line break as CR LF: counted and kept as one, as typed
    comment = (comment or "").replace("\r\n", "\n").strip()
    if not comment:
        if required:
            raise DomainError(
                "Expliquez dans le commentaire ce qu'il faut compléter ou corriger.", field=field
            )
        return None
    if len(comment) > COMMENT_MAX:
        raise DomainError(
            f"Le commentaire ne doit pas dépasser {COMMENT_MAX} caractères.", field=field
        )
    return comment


def check_comment(comment: str | None) -> str | None:
    """What `_comment` says of an optional comment (the entity's), or None: the inline
    check of the Informations tab."""
    try:
        _comment(comment, required=False)
    except DomainError as exc:
        return exc.message
    return None


# --- what an entity may request ----------------------------------------------------------


@dataclass(frozen=True)
class LevelChoice:
    scheme_level_id: int
    label: str  # "CATEC / 1"
    scheme_name: str
    technical: bool


def _held_or_requested(db: Session, organization_id: int, except_request_id: int | None):
    """The dispositif-levels the entity holds (valid today or later) or is requesting."""
    held = set(
        db.exec(
            select(Accreditation.scheme_level_id).where(
                Accreditation.organization_id == organization_id,
                Accreditation.end_date >= today(),
            )
        ).all()
    )
    requested = set(
        db.exec(
            select(AccreditationRequest.scheme_level_id).where(
                AccreditationRequest.organization_id == organization_id,
                AccreditationRequest.phase.in_(OPEN_REQUEST_PHASES),
                AccreditationRequest.scheme_level_id.is_not(None),
                AccreditationRequest.id != (except_request_id or 0),
            )
        ).all()
    )
    return held, requested


def requestable_levels(
    db: Session, organization_id: int, request: AccreditationRequest | None = None
) -> list[LevelChoice]:
    """The dispositif-levels the entity may ask for (SPEC §5: the list depends on what it
    holds): active, not INRS-only, neither held nor already being requested."""
    held, requested = _held_or_requested(db, organization_id, request.id if request else None)
    rows = db.exec(
        select(SchemeLevel, Scheme)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Scheme.active.is_(True), SchemeLevel.inrs_only.is_(False))
        .order_by(Scheme.code, SchemeLevel.level)
    ).all()
    return [
        LevelChoice(
            level.id, f"{scheme.code} / {level.level}", scheme.name, scheme.technical_requirements
        )
        for level, scheme in rows
        if level.id not in held and level.id not in requested
    ]


def check_scheme_level(
    db: Session, organization_id: int, scheme_level_id: int | None, request: AccreditationRequest
) -> str | None:
    """The message for a dispositif-level the entity may not ask for, else None."""
    if scheme_level_id is None:
        return "Choisissez le dispositif et le niveau demandés."
    level = db.get(SchemeLevel, scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id) if level else None
    if level is None or not scheme.active or level.inrs_only:
        return "Ce dispositif et ce niveau ne peuvent pas être demandés."
    if request.kind == RequestKind.RENEWAL:
        return None  # fixed by the accreditation being renewed
    held, requested = _held_or_requested(db, organization_id, request.id)
    label = f"{scheme.code} / {level.level}"
    if scheme_level_id in held:
        return (
            f"Votre entité détient déjà une habilitation {label} : pour la prolonger, "
            "utilisez « Renouveler » sur cette habilitation, dans les 12 mois avant sa fin."
        )
    if scheme_level_id in requested:
        return f"Une demande {label} de votre entité est déjà en cours."
    return None


# --- the entity's side --------------------------------------------------------------------


def new_request(db: Session, role: ActiveRole) -> AccreditationRequest:
    """A draft "Demande d'habilitation": initial for an entity that never held one,
    complementary otherwise. The dispositif is chosen on its Pédagogique tab."""
    if role.role not in ENTITY_ROLES:
        raise DomainError("Seuls les gestionnaires demandent des habilitations.")
    organization = db.get(Organization, role.organization_id)
    if organization is None or organization.code is None:
        raise DomainError(
            "Votre entité doit être validée par sa caisse avant de demander une habilitation."
        )
    holds_one = db.exec(
        select(Accreditation.id).where(Accreditation.organization_id == organization.id)
    ).first()
    request = AccreditationRequest(
        organization_id=organization.id,
        fund_id=organization.fund_id,
        kind=RequestKind.ADDITIONAL if holds_one else RequestKind.INITIAL,
        phase=RequestPhase.DRAFT,
        created_by_id=role.person_id,
    )
    db.add(request)
    db.flush()
    _audit(db, role, request, "created", None, RequestPhase.DRAFT)
    return request


def renewal_opens_on(accreditation: Accreditation) -> date:
    return accreditation.end_date - relativedelta(months=RENEWAL_MONTHS)


def renewal_of(db: Session, accreditation_id: int) -> AccreditationRequest | None:
    """The renewal request in progress for an accreditation, if any."""
    return db.exec(
        select(AccreditationRequest).where(
            AccreditationRequest.renewal_of_id == accreditation_id,
            AccreditationRequest.phase.in_(OPEN_REQUEST_PHASES),
        )
    ).first()


def renewal_problem(
    db: Session, accreditation: Accreditation, on: date | None = None
) -> str | None:
    """Why "Renouveler" is not possible today, or None."""
    on = on or today()
    if on > accreditation.end_date:
        return "Cette habilitation est terminée : faites une nouvelle demande d'habilitation."
    opens = renewal_opens_on(accreditation)
    if on < opens:
        return f"Le renouvellement pourra être demandé à partir du {opens:%d/%m/%Y}."
    if renewal_of(db, accreditation.id) is not None:
        return "Un renouvellement de cette habilitation est déjà en cours."
    newer = db.exec(
        select(Accreditation.id).where(
            Accreditation.organization_id == accreditation.organization_id,
            Accreditation.scheme_level_id == accreditation.scheme_level_id,
            Accreditation.start_date > accreditation.end_date,
        )
    ).first()
    if newer:
        return "Cette habilitation a déjà été renouvelée."
    return None


def start_renewal(
    db: Session, role: ActiveRole, accreditation: Accreditation, version: int | None = None
) -> AccreditationRequest:
    """A renewal draft pre-filled from the current accreditation: its dispositif-level,
    platforms, equipment and mobile platform, and the documents of the request that made it."""
    if role.role not in ENTITY_ROLES or accreditation.organization_id != role.organization_id:
        raise DomainError("Seuls les gestionnaires de l'entité renouvellent ses habilitations.")
    problem = renewal_problem(db, accreditation)
    if problem:
        raise DomainError(problem)
    # two "Renouveler" at once: the accreditation's row is taken by the first, the second
    # finds its version changed and starts nothing (the check above ran before either wrote)
    taken = db.exec(
        update(Accreditation)
        .where(
            Accreditation.id == accreditation.id,
            Accreditation.version == (accreditation.version if version is None else version),
        )
        .values(version=Accreditation.version + 1)
    ).rowcount
    if not taken:
        db.rollback()
        raise ConflictError(
            "Un renouvellement de cette habilitation vient d'être demandé par quelqu'un "
            "d'autre : rechargez la page."
        )
    organization = db.get(Organization, accreditation.organization_id)
    request = AccreditationRequest(
        organization_id=organization.id,
        fund_id=organization.fund_id,
        scheme_level_id=accreditation.scheme_level_id,
        kind=RequestKind.RENEWAL,
        phase=RequestPhase.DRAFT,
        renewal_of_id=accreditation.id,
        mobile_platform=accreditation.mobile_platform,
        created_by_id=role.person_id,
    )
    db.add(request)
    db.flush()
    for platform in db.exec(
        select(Platform).where(Platform.accreditation_id == accreditation.id)
    ).all():
        db.add(
            Platform(
                request_id=request.id,
                name=platform.name,
                address=platform.address,
                postal_code=platform.postal_code,
                city=platform.city,
            )
        )
    for item in db.exec(select(Equipment).where(Equipment.accreditation_id == accreditation.id)):
        db.add(
            Equipment(
                request_id=request.id,
                label=item.label,
                quantity=item.quantity,
                description=item.description,
            )
        )
    if accreditation.request_id:
        for document in db.exec(
            select(RequestDocument).where(RequestDocument.request_id == accreditation.request_id)
        ).all():
            if document.kind == "engagement":
                continue  # a new letter is signed for each request
            db.add(
                RequestDocument(
                    request_id=request.id,
                    kind=document.kind,
                    label=document.label,
                    file_id=document.file_id,
                    uploaded_by_id=document.uploaded_by_id,
                    uploaded_at=document.uploaded_at,
                )
            )
    _audit(
        db,
        role,
        request,
        "created",
        None,
        RequestPhase.DRAFT,
        data={"renewal_of": accreditation.id},
    )
    return request


def save_informations(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int, comment: str | None
) -> None:
    _require(role, request, Action.EDIT)
    value = _comment(comment, required=False, field="requester_comment")
    if value != request.requester_comment:
        _write(db, request, version, requester_comment=value)


def save_pedagogique(
    db: Session,
    role: ActiveRole,
    request: AccreditationRequest,
    version: int,
    scheme_level_id: int | None,
) -> None:
    _require(role, request, Action.EDIT)
    # a renewal keeps its accreditation's; a request sent back keeps what the caisse
    # instructed (changing it would skip the phases already passed)
    fixed = request.kind == RequestKind.RENEWAL or request.phase != RequestPhase.DRAFT
    if fixed or scheme_level_id == request.scheme_level_id:
        return
    if scheme_level_id is not None:
        problem = check_scheme_level(db, request.organization_id, scheme_level_id, request)
        if problem:
            raise DomainError(problem, field="scheme_level_id")
    if scheme_level_id is None:
        _write(db, request, version, scheme_level_id=None)
        return
    technical = _technical_level(db, scheme_level_id)
    _write(
        db,
        request,
        version,
        scheme_level_id=scheme_level_id,
        mobile_platform=request.mobile_platform and technical,
    )
    # what the new dispositif does not ask for goes: otherwise a CATEC platform left behind
    # would wait for a CNH approval date and follow an SST accreditation to its sessions
    # the signed letter names the dispositif it commits to: a new one is to be signed
    asked = {r.kind for r in requirements_of(db, scheme_level_id)} - {"engagement"}
    for document in db.exec(
        select(RequestDocument).where(RequestDocument.request_id == request.id)
    ).all():
        if document.kind not in asked:
            db.delete(document)
    if not technical:
        for model in (Platform, Equipment):
            for row in db.exec(select(model).where(model.request_id == request.id)).all():
                db.delete(row)
    db.flush()


def save_technique(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int, mobile: bool
) -> None:
    _require(role, request, Action.EDIT)
    if bool(mobile) != request.mobile_platform:
        _write(db, request, version, mobile_platform=bool(mobile))


# documents, platforms and equipment: each change bumps the request's version


def requirements_of(db: Session, scheme_level_id: int | None) -> list[DocumentRequirement]:
    if scheme_level_id is None:
        return []
    return list(
        db.exec(
            select(DocumentRequirement)
            .where(DocumentRequirement.scheme_level_id == scheme_level_id)
            .order_by(DocumentRequirement.position)
        ).all()
    )


def documents_of(db: Session, request_id: int) -> list[tuple[RequestDocument, StoredFile]]:
    return list(
        db.exec(
            select(RequestDocument, StoredFile)
            .join(StoredFile, StoredFile.id == RequestDocument.file_id)
            .where(RequestDocument.request_id == request_id)
            .order_by(RequestDocument.id)
        ).all()
    )


def add_document(
    db: Session,
    role: ActiveRole,
    request: AccreditationRequest,
    version: int,
    kind: str,
    file,
    label: str | None = None,
) -> RequestDocument:
    """Store an uploaded document (content-checked, size-capped; nothing stored when
    refused). A single-file document replaces the one before."""
    _require(role, request, Action.EDIT)
    requirement = next(
        (r for r in requirements_of(db, request.scheme_level_id) if r.kind == kind), None
    )
    if requirement is None:
        raise DomainError(
            "Ce document n'est pas demandé pour ce dispositif.", field=f"fichier_{kind}"
        )
    label = (label or "").strip() or None
    if kind == "complementaire" and not label:
        raise DomainError("Donnez un intitulé au document.", field="label")
    if label and len(label) > 200:
        raise DomainError("L'intitulé ne doit pas dépasser 200 caractères.", field="label")
    stored = store_upload(db, file, field=f"fichier_{kind}")
    _write(db, request, version)
    if not requirement.multiple:
        for old in db.exec(
            select(RequestDocument).where(
                RequestDocument.request_id == request.id, RequestDocument.kind == kind
            )
        ).all():
            db.delete(old)
    document = RequestDocument(
        request_id=request.id,
        kind=kind,
        label=label,
        file_id=stored.id,
        uploaded_by_id=role.person_id,
    )
    db.add(document)
    db.flush()
    return document


def remove_document(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int, document_id: int
) -> None:
    _require(role, request, Action.EDIT)
    document = db.get(RequestDocument, document_id)
    if document is None or document.request_id != request.id:
        raise DomainError("Ce document n'existe plus.")
    _write(db, request, version)
    db.delete(document)


def document_of(db: Session, request: AccreditationRequest, document_id: int) -> StoredFile | None:
    document = db.get(RequestDocument, document_id)
    if document is None or document.request_id != request.id:
        return None
    return db.get(StoredFile, document.file_id)


@dataclass
class PlatformInput:
    name: str
    address: str
    postal_code: str
    city: str


def check_platform(values: PlatformInput, db: Session | None = None) -> dict[str, str]:
    """{field: message}. With `db`, the postal code must also be in a department a caisse
    covers: the rule of "Mon entité" and of a session's lieu, where this platform's sessions
    are held (a code no caisse covers could host none)."""
    errors = {}
    for field, label, limit in (
        ("name", "le nom de la plateforme", 200),
        ("address", "l'adresse", 250),
        ("city", "la ville", 100),
    ):
        value = (getattr(values, field) or "").strip()
        if not value:
            errors[field] = f"Indiquez {label}."
        elif len(value) > limit:
            errors[field] = f"Pas plus de {limit} caractères."
    postal = (values.postal_code or "").strip()
    if not (len(postal) == 5 and postal.isascii() and postal.isdigit()):
        errors["postal_code"] = "Le code postal a 5 chiffres, par exemple 67000."
    elif db is not None and (message := check_postal_code(db, postal)):
        errors["postal_code"] = message
    return errors


def _platform(values: PlatformInput, **owner) -> Platform:
    return Platform(
        name=values.name.strip(),
        address=values.address.strip(),
        postal_code=values.postal_code.strip(),
        city=values.city.strip(),
        **owner,
    )


def add_platform(
    db: Session,
    role: ActiveRole,
    request: AccreditationRequest,
    version: int,
    values: PlatformInput,
) -> dict[str, str]:
    """A fixed platform of the request; {field: message} when refused (nothing written)."""
    _require(role, request, Action.EDIT)
    errors = check_platform(values, db)
    if errors:
        return errors
    _write(db, request, version)
    db.add(_platform(values, request_id=request.id))
    db.flush()
    return {}


def remove_platform(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int, platform_id: int
) -> None:
    _require(role, request, Action.EDIT)
    platform = db.get(Platform, platform_id)
    if platform is None or platform.request_id != request.id or platform.accreditation_id:
        raise DomainError("Cette plateforme n'existe plus.")
    _write(db, request, version)
    db.delete(platform)


@dataclass
class EquipmentInput:
    label: str
    quantity: str | int
    description: str | None = None


def check_equipment(values: EquipmentInput) -> dict[str, str]:
    errors = {}
    label = (values.label or "").strip()
    if not label:
        errors["label"] = "Indiquez le matériel."
    elif len(label) > 200:
        errors["label"] = "Pas plus de 200 caractères."
    try:
        quantity = int(str(values.quantity).strip())
    except ValueError:
        quantity = 0
    if not 1 <= quantity <= 9999:
        errors["quantity"] = "La quantité est un nombre entier de 1 à 9999."
    if values.description and len(values.description.strip()) > 500:
        errors["description"] = "Pas plus de 500 caractères."
    return errors


def add_equipment(
    db: Session,
    role: ActiveRole,
    request: AccreditationRequest,
    version: int,
    values: EquipmentInput,
) -> dict[str, str]:
    _require(role, request, Action.EDIT)
    errors = check_equipment(values)
    if errors:
        return errors
    _write(db, request, version)
    db.add(
        Equipment(
            request_id=request.id,
            label=values.label.strip(),
            quantity=int(str(values.quantity).strip()),
            description=(values.description or "").strip() or None,
        )
    )
    db.flush()
    return {}


def remove_equipment(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int, equipment_id: int
) -> None:
    _require(role, request, Action.EDIT)
    item = db.get(Equipment, equipment_id)
    if item is None or item.request_id != request.id:
        raise DomainError("Cette ligne de matériel n'existe plus.")
    _write(db, request, version)
    db.delete(item)


def platforms_of_request(db: Session, request_id: int) -> list[Platform]:
    return list(
        db.exec(select(Platform).where(Platform.request_id == request_id).order_by(Platform.id))
    )


def equipment_of_request(db: Session, request_id: int) -> list[Equipment]:
    return list(
        db.exec(select(Equipment).where(Equipment.request_id == request_id).order_by(Equipment.id))
    )


def is_technical(db: Session, request: AccreditationRequest) -> bool:
    """The Technique tab exists for dispositifs with technical requirements (CATEC, ECHAF)."""
    if request.scheme_level_id is None:
        return False
    return _technical_level(db, request.scheme_level_id)


def _technical_level(db: Session, scheme_level_id: int) -> bool:
    level = db.get(SchemeLevel, scheme_level_id)
    return bool(level and db.get(Scheme, level.scheme_id).technical_requirements)


def missing(db: Session, request: AccreditationRequest) -> list[tuple[str, str]]:
    """What still stops "Soumettre", as (tab, message) — the tab named so the person
    knows where to go."""
    problems: list[tuple[str, str]] = []
    if request.scheme_level_id is None:
        return [("pedagogique", "Pédagogique : choisissez le dispositif et le niveau.")]
    problem = check_scheme_level(db, request.organization_id, request.scheme_level_id, request)
    if problem:
        problems.append(("pedagogique", f"Pédagogique : {problem}"))
    kinds = {d.kind for d, _f in documents_of(db, request.id)}
    for requirement in requirements_of(db, request.scheme_level_id):
        if requirement.required and requirement.kind not in kinds:
            tab = "Pédagogique" if requirement.tab == "pedagogique" else "Technique"
            problems.append((requirement.tab, f"{tab} : déposez « {requirement.label} »."))
    technical = is_technical(db, request)
    if technical and not request.mobile_platform and not platforms_of_request(db, request.id):
        problems.append(
            (
                "technique",
                "Technique : déclarez au moins une plateforme fixe, ou cochez "
                "« Plateforme pédagogique mobile ».",
            )
        )
    organization = db.get(Organization, request.organization_id)
    if not (organization.signatory_last_name and organization.signatory_function):
        problems.append(
            ("entite", "Entité : indiquez le signataire de la lettre d'engagement (Mon entité).")
        )
    return problems


def _gestionnaires(db: Session, organization_id: int) -> list[Person]:
    return list(
        db.exec(
            select(Person)
            .join(RoleGrant, RoleGrant.person_id == Person.id)
            .where(
                RoleGrant.organization_id == organization_id,
                RoleGrant.role == Role.GESTIONNAIRE,
                RoleGrant.active.is_(True),
                Person.active.is_(True),
            )
            .order_by(Person.last_name, Person.first_name, Person.id)
        ).all()
    )


def gestionnaires_of(db: Session, organization_id: int) -> list[Person]:
    return _gestionnaires(db, organization_id)


def _tell(
    db: Session,
    people: list[tuple[int, int | None]],
    request,
    title: str,
    tab: str,
    *,
    mail: bool = True,
) -> None:
    """A task for each person, mailed to those who chose it — unless `mail` is False: the
    CNH's decision is mailed to every gestionnaire by accreditation_letters, once."""
    close_tasks(db, "accreditation_request", request.id)
    for person_id, grant_id in people:
        task = dict(
            person_id=person_id,
            role_grant_id=grant_id,
            kind="accreditation_request",
            title=title,
            link=f"/habilitations/demandes/{request.id}/{tab}",
            object_type="accreditation_request",
            object_id=request.id,
        )
        if mail:
            notify(db, **task)
        else:
            db.add(Notification(**task))


def _tell_entity(
    db: Session, request: AccreditationRequest, title: str, tab="informations", *, mail=True
) -> None:
    people = [
        (p.id, grant_for(db, p.id, [Role.GESTIONNAIRE], request.organization_id))
        for p in _gestionnaires(db, request.organization_id)
    ]
    _tell(db, people, request, title, tab, mail=mail)


def _tell_caisse(db: Session, request: AccreditationRequest, title: str) -> None:
    rows = db.exec(
        select(RoleGrant.person_id, RoleGrant.id)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(
            RoleGrant.role == Role.INSTRUCTEUR,
            RoleGrant.fund_id == request.fund_id,
            RoleGrant.active.is_(True),
            Person.active.is_(True),
        )
    ).all()
    _tell(db, list(rows), request, title, "informations")


def _tell_cnh(db: Session, request: AccreditationRequest, title: str) -> None:
    rows = db.exec(
        select(RoleGrant.person_id, RoleGrant.id)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(
            RoleGrant.role == Role.ADMINISTRATEUR,
            RoleGrant.active.is_(True),
            Person.active.is_(True),
        )
    ).all()
    _tell(db, list(rows), request, title, "informations")


def label_of(db: Session, request: AccreditationRequest) -> str:
    if request.scheme_level_id is None:
        return f"Demande d'habilitation n° {request.id}"
    level = db.get(SchemeLevel, request.scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id)
    return f"Demande d'habilitation n° {request.id} ({scheme.code} / {level.level})"


def submit(db: Session, role: ActiveRole, request: AccreditationRequest, version: int) -> None:
    """ "Soumettre": to the caisse (a request sent back goes back to its phase)."""
    _require(role, request, Action.SUBMIT)
    problems = missing(db, request)
    if problems:
        raise DomainError(
            "La demande ne peut pas encore être soumise : "
            + " ".join(message for _tab, message in problems)
        )
    before = request.phase
    target = (
        RequestPhase(request.returned_from)
        if before == RequestPhase.RETURNED and request.returned_from
        else RequestPhase.FILE_COMPLETE
    )
    _write(
        db,
        request,
        version,
        phase=target,
        submitted_at=request.submitted_at or utcnow(),
    )
    _audit(db, role, request, "submitted", before, target)
    _tell_caisse(db, request, f"{label_of(db, request)} à instruire")


def abandon(db: Session, role: ActiveRole, request: AccreditationRequest, version: int) -> None:
    _require(role, request, Action.ABANDON)
    before = request.phase
    _write(db, request, version, phase=RequestPhase.ABANDONED)
    _audit(db, role, request, "abandoned", before, RequestPhase.ABANDONED)
    close_tasks(db, "accreditation_request", request.id)


# --- the caisse's instruction ---------------------------------------------------------------


def start_instruction(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int
) -> None:
    _require(role, request, Action.START)
    _write(db, request, version, phase=RequestPhase.PHASE_1)
    _audit(db, role, request, "phase_1_started", RequestPhase.FILE_COMPLETE, RequestPhase.PHASE_1)
    close_tasks(db, "accreditation_request", request.id)


def complete_phase(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int, expected: str
) -> None:
    """ "Complet": phase 1 → phase 2, phase 2 → Décision CNH. `expected` is the phase the
    instructor saw: a click meant for phase 1 never completes phase 2."""
    _require(role, request, Action.COMPLETE)
    if request.phase != expected:
        raise ConflictError(CONFLICT)
    before = RequestPhase(request.phase)
    target = NEXT_PHASE[before]
    _write(db, request, version, phase=target)
    _audit(db, role, request, f"{before.value}_complete", before, target)
    if target == RequestPhase.CNH:
        _tell_cnh(db, request, f"{label_of(db, request)} : décision CNH à enregistrer")
    else:
        close_tasks(db, "accreditation_request", request.id)


def return_incomplete(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int, comment: str
) -> None:
    """ "Incomplet": back to the entity with what to fix; it resubmits to this phase."""
    _require(role, request, Action.INCOMPLETE)
    comment = _comment(comment, required=True)
    before = RequestPhase(request.phase)
    _write(
        db,
        request,
        version,
        phase=RequestPhase.RETURNED,
        returned_from=before,
        return_comment=comment,
        returned_at=utcnow(),
    )
    _audit(db, role, request, "returned", before, RequestPhase.RETURNED, comment=comment)
    _tell_entity(db, request, f"{label_of(db, request)} à compléter")


# --- the CNH's decision --------------------------------------------------------------------


def period_for(db: Session, request: AccreditationRequest, start: date) -> tuple[date, date]:
    """(start, end) of the accreditation a favourable decision gives: end = start + the
    setting's years (FORPREV_ACCREDITATION_YEARS); a renewal follows the accreditation it renews (it never
    starts before that one ends, so nothing is extended)."""
    if request.kind == RequestKind.RENEWAL and request.renewal_of_id:
        previous = db.get(Accreditation, request.renewal_of_id)
        if previous is not None:
            start = max(start, previous.end_date + timedelta(days=1))
    years = current_app.config["ACCREDITATION_YEARS"]
    return start, start + relativedelta(years=years)


def check_decision_start(request: AccreditationRequest, start: date | None) -> str | None:
    if start is None:
        return "Indiquez la date de début de l'habilitation (date de la décision CNH)."
    # the day of submission in Paris, the day users reason about (stored in UTC)
    submitted = to_paris(request.submitted_at).date() if request.submitted_at else None
    if submitted and start < submitted:
        return (
            f"La date de début ne peut pas précéder la demande (soumise le {submitted:%d/%m/%Y})."
        )
    if start > today() + relativedelta(years=1):
        return "La date de début doit être dans l'année qui vient."
    return None


def _sequence_for(db: Session, request: AccreditationRequest) -> int:
    if request.kind == RequestKind.RENEWAL and request.renewal_of_id:
        previous = db.get(Accreditation, request.renewal_of_id)
        if previous is not None:
            return previous.sequence + 1
    last = db.exec(
        select(func.max(Accreditation.sequence)).where(
            Accreditation.organization_id == request.organization_id,
            Accreditation.scheme_level_id == request.scheme_level_id,
        )
    ).one()
    return 0 if last is None else last + 1


def decide_favourable(
    db: Session,
    role: ActiveRole,
    request: AccreditationRequest,
    version: int,
    start: date | None,
    platform_dates: dict[int, date | None] | None = None,
) -> Accreditation:
    """The CNH's favourable decision: the accreditation with its number, period, platforms
    (with their approval dates), equipment; the decision letter is drawn and e-mailed to
    every gestionnaire by the caller's letters module (accreditation_letters)."""
    _require(role, request, Action.DECIDE)
    problem = check_decision_start(request, start)
    if problem:
        raise DomainError(problem, field="start_date")
    platforms = platforms_of_request(db, request.id)
    dates = platform_dates or {}
    for platform in platforms:
        approved = dates.get(platform.id)
        if approved is None:
            raise DomainError(
                f"Indiquez la date d'approbation CNH de la plateforme « {platform.name} ».",
                field=f"plateforme_{platform.id}",
            )
        if approved > today():
            raise DomainError(
                f"La date d'approbation de « {platform.name} » ne peut pas être dans le futur.",
                field=f"plateforme_{platform.id}",
            )
    begin, end = period_for(db, request, start)
    _write(db, request, version, phase=RequestPhase.FAVOURABLE, decided_at=utcnow())
    organization = db.get(Organization, request.organization_id)
    level = db.get(SchemeLevel, request.scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id)
    sequence = _sequence_for(db, request)
    accreditation = None
    for _attempt in range(NUMBER_ATTEMPTS):
        candidate = Accreditation(
            number=accreditation_number(
                entity_code=organization.code,
                year=today().year,
                scheme_code=scheme.code,
                level=level.level,
                organization_kind=organization.kind,
                sequence=sequence,
            ),
            organization_id=organization.id,
            scheme_level_id=level.id,
            request_id=request.id,
            sequence=sequence,
            start_date=begin,
            end_date=end,
            mobile_platform=request.mobile_platform,
        )
        try:
            with db.begin_nested():
                db.add(candidate)
                db.flush()
        except IntegrityError:
            sequence += 1  # taken by a decision committed in between
            continue
        accreditation = candidate
        break
    if accreditation is None:
        db.rollback()
        raise ConflictError(
            "Le numéro d'habilitation n'a pas pu être attribué (décisions simultanées). Réessayez."
        )
    for platform in platforms:
        copy = Platform(
            accreditation_id=accreditation.id,
            name=platform.name,
            address=platform.address,
            postal_code=platform.postal_code,
            city=platform.city,
            cnh_approved_on=dates[platform.id],
        )
        db.add(copy)
    for item in equipment_of_request(db, request.id):
        db.add(
            Equipment(
                accreditation_id=accreditation.id,
                label=item.label,
                quantity=item.quantity,
                description=item.description,
            )
        )
    db.flush()
    _audit(
        db,
        role,
        request,
        "favourable",
        RequestPhase.CNH,
        RequestPhase.FAVOURABLE,
        data={"accreditation_id": accreditation.id, "number": accreditation.number},
    )
    record_event(
        db,
        actor_id=role.person_id,
        action="accreditation.created",
        object_type="accreditation",
        object_id=accreditation.id,
        to_state="valide",
        data={"request_id": request.id, "number": accreditation.number},
    )
    _tell_entity(db, request, f"Habilitation {accreditation.number} accordée", mail=False)
    return accreditation


def decide_unfavourable(
    db: Session, role: ActiveRole, request: AccreditationRequest, version: int, reason: str
) -> None:
    _require(role, request, Action.DECIDE)
    reason = _comment(reason, required=True, field="reason")
    _write(
        db,
        request,
        version,
        phase=RequestPhase.UNFAVOURABLE,
        decided_at=utcnow(),
        decision_comment=reason,
    )
    _audit(
        db,
        role,
        request,
        "unfavourable",
        RequestPhase.CNH,
        RequestPhase.UNFAVOURABLE,
        comment=reason,
    )
    _tell_entity(db, request, f"{label_of(db, request)} : décision défavorable", mail=False)


def history(db: Session, request_id: int) -> list[tuple[AuditEvent, Person | None]]:
    return list(
        db.exec(
            select(AuditEvent, Person)
            .outerjoin(Person, Person.id == AuditEvent.actor_id)
            .where(
                AuditEvent.object_type == "accreditation_request",
                AuditEvent.object_id == request_id,
            )
            .order_by(AuditEvent.id)
        ).all()
    )
