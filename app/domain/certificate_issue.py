"""Issuing a closed session's certificates (SPEC §7 "After generation").

`issue_certificates` creates one Certificate per successful trainee, once: run it twice
and nothing changes (a unique index on the trainee backs it up). Level ≥ 2 successes
become trainers: their account is matched (Forprev number, e-mail, or name and birth
date) or created, the formateur role granted, the certificate attached, and a link
mailed. Only the initials and birth year are kept for verification after the purge.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from sqlalchemy import func
from sqlmodel import Session, select

from app.domain.accounts import send_password_link
from app.domain.certificate_numbers import new_verification_code, next_certificate_number
from app.domain.identifiers import new_forprev_number
from app.domain.trainer_check import find_person_by_identity
from app.models import (
    Accreditation,
    Certificate,
    CertificateModel,
    CertSession,
    Organization,
    Person,
    RoleGrant,
    Scheme,
    SchemeLevel,
    Trainee,
)
from app.models.people import Role


def initials(first_name: str, last_name: str) -> str:
    return f"{(first_name or '?')[0].upper()}. {(last_name or '?')[0].upper()}."


def valid_until(end: date, model: CertificateModel) -> date:
    return end + relativedelta(months=model.validity_months)


def _trainer_account(db: Session, trainee: Trainee, certified: dict) -> Person:
    """The account of a trainee who becomes a trainer: found, or created (never twice);
    `certified` tells the new account's mail why it was created."""
    person = db.get(Person, trainee.person_id) if trainee.person_id else None
    if person is None and trainee.email:
        person = db.exec(
            select(Person).where(func.lower(Person.email) == trainee.email.lower())
        ).first()
    if person is None:
        person = find_person_by_identity(
            db,
            last_name=trainee.last_name,
            first_name=trainee.first_name,
            birth_date=trainee.birth_date,
        )
    if person is None:
        person = Person(
            forprev_number=new_forprev_number(db),
            email=trainee.email.lower(),
            last_name=trainee.last_name.upper(),
            first_name=trainee.first_name,
            birth_date=trainee.birth_date,
            active=False,
        )
        db.add(person)
        db.flush()
        send_password_link(db, person, template="account_created", context={"certified": certified})
    has_role = db.exec(
        select(RoleGrant.id).where(
            RoleGrant.person_id == person.id, RoleGrant.role == Role.FORMATEUR
        )
    ).first()
    if has_role is None:
        db.add(RoleGrant(person_id=person.id, role=Role.FORMATEUR))
    trainee.person_id = person.id
    db.add(trainee)
    return person


def issue_certificates(db: Session, cert_session: CertSession) -> list[Certificate]:
    """Every successful trainee's certificate, created if missing; in trainee order."""
    model = db.get(CertificateModel, cert_session.certificate_model_id)
    level = db.get(SchemeLevel, cert_session.scheme_level_id)
    passed = db.exec(
        select(Trainee)
        .where(Trainee.cert_session_id == cert_session.id, Trainee.passed.is_(True))
        .order_by(Trainee.position, Trainee.id)
    ).all()
    existing = {
        c.trainee_id: c
        for c in db.exec(
            select(Certificate).where(Certificate.trainee_id.in_([t.id for t in passed]))
        ).all()
    }
    certified = {
        "certificate": model.name,
        "session_id": cert_session.id,
        "organization": db.get(Organization, cert_session.organization_id).name,
    }
    issued = []
    for trainee in passed:
        certificate = existing.get(trainee.id)
        if certificate is None:
            holder = _trainer_account(db, trainee, certified) if level.level >= 2 else None
            certificate = Certificate(
                number=next_certificate_number(db, cert_session.end_date.year),
                verification_code=new_verification_code(),
                cert_session_id=cert_session.id,
                trainee_id=trainee.id,
                person_id=holder.id if holder else None,
                certificate_model_id=model.id,
                scheme_level_id=level.id,
                organization_id=cert_session.organization_id,
                holder_initials=initials(trainee.first_name, trainee.last_name),
                holder_birth_year=trainee.birth_date.year,
                session_end_date=cert_session.end_date,
                valid_until=valid_until(cert_session.end_date, model),
            )
            db.add(certificate)
            db.flush()
        issued.append(certificate)
    return issued


@dataclass
class CertificateView:
    """Everything a certificate shows, gathered once for a whole session."""

    number: str
    holder: str
    birth_date: date | None
    scheme_name: str
    scheme_code: str
    level: int
    model_name: str
    end_date: date
    valid_until: date
    organization: str
    accreditation_number: str
    trainer: str
    is_refresher: bool
    verification_code: str


def certificate_views(
    db: Session, cert_session: CertSession, certificates
) -> list[CertificateView]:
    level = db.get(SchemeLevel, cert_session.scheme_level_id)
    scheme = db.get(Scheme, level.scheme_id)
    model = db.get(CertificateModel, cert_session.certificate_model_id)
    organization = db.get(Organization, cert_session.organization_id)
    accreditation = (
        db.get(Accreditation, cert_session.accreditation_id)
        if cert_session.accreditation_id
        else None
    )
    trainer = db.get(Person, cert_session.trainer_id) if cert_session.trainer_id else None
    trainees = {
        t.id: t
        for t in db.exec(select(Trainee).where(Trainee.cert_session_id == cert_session.id)).all()
    }
    views = []
    for c in certificates:
        trainee = trainees.get(c.trainee_id)
        views.append(
            CertificateView(
                number=c.number,
                holder=f"{trainee.first_name} {trainee.last_name}"
                if trainee
                else c.holder_initials,
                birth_date=trainee.birth_date if trainee else None,
                scheme_name=scheme.name,
                scheme_code=scheme.code,
                level=level.level,
                model_name=model.name,
                end_date=c.session_end_date,
                valid_until=c.valid_until,
                organization=organization.name,
                accreditation_number=accreditation.number if accreditation else "",
                trainer=f"{trainer.first_name} {trainer.last_name}" if trainer else "",
                is_refresher=bool(cert_session.is_refresher),
                verification_code=c.verification_code,
            )
        )
    return views


# letters that Unicode does not take apart into a base letter and an accent
_NOT_DECOMPOSED = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ð": "D",
        "ð": "d",
        "Þ": "Th",
        "þ": "th",
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "ı": "i",
    }
)


def ascii_name(text: str) -> str:
    """`Łukasz WOŹNIAK` → `Lukasz-WOZNIAK`: a file name part any system accepts (accents
    dropped, anything but letters and digits becomes a hyphen)."""
    plain = unicodedata.normalize("NFKD", (text or "").translate(_NOT_DECOMPOSED))
    plain = plain.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", plain).strip("-")


def archive_names(db: Session, cert_session: CertSession, certificates) -> list[str]:
    """Each certificate's file name in the bundle's ZIP, e.g. SST-2026-000123_DUPONT_Jean.pdf:
    the holder's name tells the files apart, the number keeps them unique."""
    scheme = db.get(Scheme, db.get(SchemeLevel, cert_session.scheme_level_id).scheme_id)
    trainees = {
        t.id: t
        for t in db.exec(select(Trainee).where(Trainee.cert_session_id == cert_session.id)).all()
    }
    names = []
    for certificate in certificates:
        parts = [f"{ascii_name(scheme.code)}-{certificate.number}"]
        trainee = trainees.get(certificate.trainee_id)
        if trainee is not None:
            parts += [ascii_name(trainee.last_name).upper(), ascii_name(trainee.first_name)]
        names.append("_".join(part for part in parts if part) + ".pdf")
    return names
