"""The letters of an accreditation (SPEC §5): the "lettre d'engagement" the entity's
signataire signs before the request is submitted, and the CNH's decision letter, stored
with the accreditation and e-mailed, attached, to every gestionnaire of the entity.

Both are drawn by xhtml2pdf from templates under accreditations/letters/, with the app's
embedded font (certificates/_pdf_font.html): names in any Latin script print as typed."""

import re
from dataclasses import dataclass
from datetime import date

from flask import current_app, render_template
from sqlmodel import Session, select

from app.clock import to_paris, today
from app.domain.accreditation_flow import gestionnaires_of
from app.domain.certificate_pdf import html_to_pdf
from app.domain.errors import DomainError
from app.domain.mail import queue_email
from app.domain.storage import get_storage
from app.models import (
    Accreditation,
    AccreditationRequest,
    Fund,
    Organization,
    Platform,
    Scheme,
    SchemeLevel,
    StoredFile,
)
from app.models.accreditations import REQUEST_KIND_LABELS, RequestKind
from app.models.organizations import ORGANIZATION_KIND_LABELS, OrganizationKind

PDF = "application/pdf"


@dataclass(frozen=True)
class LetterEntity:
    """What both letters say of the entity."""

    name: str
    kind: str
    siret: str | None
    address: str | None
    postal_code: str | None
    city: str | None
    code: str | None
    signatory_first_name: str | None
    signatory_last_name: str | None
    signatory_function: str | None

    @property
    def signatory(self) -> str:
        return " ".join(p for p in (self.signatory_first_name, self.signatory_last_name) if p)


@dataclass(frozen=True)
class LetterScheme:
    code: str
    name: str
    level: int

    @property
    def label(self) -> str:
        return f"{self.code}-{self.level}"


def _entity(organization: Organization) -> LetterEntity:
    kind = ORGANIZATION_KIND_LABELS.get(OrganizationKind(organization.kind), "")
    return LetterEntity(
        name=organization.name,
        kind=kind,
        siret=organization.siret,
        address=organization.address,
        postal_code=organization.postal_code,
        city=organization.city,
        code=organization.code,
        signatory_first_name=organization.signatory_first_name,
        signatory_last_name=organization.signatory_last_name,
        signatory_function=organization.signatory_function,
    )


def _scheme(db: Session, scheme_level_id: int) -> LetterScheme:
    level = db.get(SchemeLevel, scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id)
    return LetterScheme(code=scheme.code, name=scheme.name, level=level.level)


# --- the lettre d'engagement ----------------------------------------------------------------


def commitment_letter_pdf(db: Session, request: AccreditationRequest) -> bytes:
    """The "lettre d'engagement" of a request, filled with its entity, its signataire and
    the dispositif-level requested, dated today, with room for the signature."""
    if request.scheme_level_id is None:
        raise DomainError(
            "Choisissez d'abord le dispositif et le niveau : la lettre d'engagement les nomme.",
            field="scheme_level_id",
        )
    organization = db.get(Organization, request.organization_id)
    fund = db.get(Fund, request.fund_id)
    html = render_template(
        "accreditations/letters/engagement.html",
        entity=_entity(organization),
        scheme=_scheme(db, request.scheme_level_id),
        kind=REQUEST_KIND_LABELS[RequestKind(request.kind)],
        request_id=request.id,
        fund=fund.name if fund else None,
        on=today(),
    )
    return html_to_pdf(html, "La lettre d'engagement")


# --- the decision letter ----------------------------------------------------------------------


def decision_date(accreditation: Accreditation) -> date:
    """The day the CNH's decision was recorded (Paris)."""
    return to_paris(accreditation.created_at).date()


def decision_letter_pdf(db: Session, accreditation: Accreditation) -> bytes:
    """The CNH's decision letter: the entity, the number, the dispositif-level, the period,
    the platforms with their approval dates, the mobile platform, the date of decision."""
    organization = db.get(Organization, accreditation.organization_id)
    request = (
        db.get(AccreditationRequest, accreditation.request_id) if accreditation.request_id else None
    )
    platforms = list(
        db.exec(
            select(Platform)
            .where(Platform.accreditation_id == accreditation.id)
            .order_by(Platform.id)
        ).all()
    )
    renewed = None
    if request is not None and request.kind == RequestKind.RENEWAL and request.renewal_of_id:
        renewed = db.get(Accreditation, request.renewal_of_id)
    html = render_template(
        "accreditations/letters/decision.html",
        entity=_entity(organization),
        scheme=_scheme(db, accreditation.scheme_level_id),
        accreditation=accreditation,
        request=request,
        kind=REQUEST_KIND_LABELS[RequestKind(request.kind)] if request else None,
        renewed=renewed,
        platforms=platforms,
        decided_on=decision_date(accreditation),
    )
    return html_to_pdf(html, f"La lettre de décision {accreditation.number}")


def decision_file_name(accreditation: Accreditation) -> str:
    """Decision_CNH_H67001-2026-SST-1-O-00.pdf: the number, with what a file name cannot
    hold ("/") turned into dashes."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", accreditation.number).strip("-.")
    return f"Decision_CNH_{stem}.pdf"


def issue_decision(db: Session, accreditation: Accreditation) -> StoredFile:
    """Draw the decision letter, store it with the accreditation and queue it, attached, to
    every active gestionnaire of the entity — in the caller's transaction, with the decision
    itself (nothing is sent if it rolls back)."""
    data = decision_letter_pdf(db, accreditation)
    storage = get_storage(current_app.config["STORAGE"])
    stored = storage.save(db, name=decision_file_name(accreditation), content_type=PDF, data=data)
    accreditation.decision_letter_file_id = stored.id
    db.add(accreditation)
    organization = db.get(Organization, accreditation.organization_id)
    scheme = _scheme(db, accreditation.scheme_level_id)
    for person in gestionnaires_of(db, accreditation.organization_id):
        queue_email(
            db,
            to=person.email,
            subject=f"Forprev : habilitation {accreditation.number} accordée",
            template="accreditation_decision",
            context={
                "person": person,
                "organization": organization,
                "scheme": scheme,
                "accreditation": accreditation,
                "file_name": stored.name,
                "link": f"/habilitations/{accreditation.id}/general",
            },
            category="decision",
            person_id=person.id,
            attachment_file_id=stored.id,
        )
    db.flush()
    return stored


def mail_unfavourable_decision(db: Session, request: AccreditationRequest) -> int:
    """The CNH's unfavourable decision, with its reason, to every active gestionnaire of the
    entity; returns how many mails were queued."""
    organization = db.get(Organization, request.organization_id)
    scheme = _scheme(db, request.scheme_level_id) if request.scheme_level_id else None
    people = gestionnaires_of(db, request.organization_id)
    label = f" {scheme.code} / {scheme.level}" if scheme else ""
    for person in people:
        queue_email(
            db,
            to=person.email,
            subject=f"Forprev : décision défavorable sur votre demande d'habilitation{label}",
            template="accreditation_refused",
            context={
                "person": person,
                "organization": organization,
                "scheme": scheme,
                "request": request,
                "link": f"/habilitations/demandes/{request.id}/informations",
            },
            category="decision",
            person_id=person.id,
        )
    return len(people)
