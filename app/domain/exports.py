"""CSV exports that open cleanly in a French spreadsheet: UTF-8 with a BOM (so accents
survive a double click), `;` between columns, dates as dd/mm/yyyy.

- the entity's activity: one line per session, and the counts per dispositif and level;
- a closed session's certified trainees, shaped for the "Passeport de prévention" import
  (the columns are listed in the README).

Each export is one query read in batches (no query per row); `french_csv` turns its rows
into text chunk by chunk, so a long export is streamed as it is read.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from sqlalchemy import case, func
from sqlmodel import Session, select

from app.clock import to_paris
from app.domain.certificate_pdf import verification_url
from app.models import (
    Accreditation,
    Certificate,
    CertificateModel,
    CertSession,
    Organization,
    Scheme,
    SchemeLevel,
    Trainee,
)
from app.models.cert_sessions import SESSION_STATE_LABELS, SessionState

BOM = "\ufeff"
ROWS_PER_CHUNK = 200
# a cell starting with one of these is a formula to a spreadsheet: written as text
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

ACTIVITY_HEADER = [
    "Numéro de session",
    "Dispositif",
    "Niveau",
    "Certificat",
    "Formation",
    "Date de fin",
    "Ville",
    "État",
    "Stagiaires",
    "Certifiés",
    "Clôturée le",
]
BY_SCHEME_HEADER = [
    "Dispositif",
    "Niveau",
    "Sessions",
    *SESSION_STATE_LABELS.values(),
    "Stagiaires certifiés",
]
PASSPORT_HEADER = [
    "Nom",
    "Prénom",
    "Date de naissance",
    "E-mail",
    "Intitulé du certificat",
    "Numéro de certificat",
    "Date de début de validité",
    "Date de fin de validité",
    "Dispositif",
    "Niveau",
    "Formation",
    "Organisme",
    "SIRET de l'organisme",
    "Numéro d'habilitation",
    "Adresse de vérification",
]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, datetime):
        return to_paris(value).strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def french_csv(header: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    """The BOM, the header and the rows, in chunks of text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(v) for v in row])
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _training(is_refresher: bool | None) -> str:
    if is_refresher is None:
        return ""
    return "MAC" if is_refresher else "Initiale"


def activity_rows(db: Session, organization_id: int) -> Iterator[tuple]:
    """One line per session of the entity, newest end date first."""
    trainees = (
        select(Trainee.cert_session_id, func.count().label("n"))
        .group_by(Trainee.cert_session_id)
        .subquery()
    )
    query = (
        select(
            CertSession.id,
            Scheme.code,
            SchemeLevel.level,
            CertificateModel.name,
            CertSession.is_refresher,
            CertSession.end_date,
            CertSession.city,
            CertSession.state,
            trainees.c.n,
            CertSession.success_count,
            CertSession.closed_at,
        )
        .outerjoin(SchemeLevel, SchemeLevel.id == CertSession.scheme_level_id)
        .outerjoin(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .outerjoin(CertificateModel, CertificateModel.id == CertSession.certificate_model_id)
        .outerjoin(trainees, trainees.c.cert_session_id == CertSession.id)
        .where(CertSession.organization_id == organization_id)
        .order_by(CertSession.end_date.desc(), CertSession.id.desc())
        .execution_options(yield_per=500)
    )
    for sid, code, level, model, refresher, end, city, state, n, certified, closed in db.exec(
        query
    ):
        yield (
            sid,
            code,
            level,
            model,
            _training(refresher),
            end,
            city,
            SESSION_STATE_LABELS.get(state, state),
            n or 0,
            certified if state == SessionState.CLOSED else None,
            closed,
        )


def activity_by_scheme_rows(db: Session, organization_id: int) -> Iterator[tuple]:
    """The entity's sessions counted per dispositif and level, and per state."""
    per_state = [
        func.sum(case((CertSession.state == state, 1), else_=0)) for state in SESSION_STATE_LABELS
    ]
    query = (
        select(
            Scheme.code,
            SchemeLevel.level,
            func.count(),
            *per_state,
            func.sum(
                case((CertSession.state == SessionState.CLOSED, CertSession.success_count), else_=0)
            ),
        )
        .select_from(CertSession)
        .outerjoin(SchemeLevel, SchemeLevel.id == CertSession.scheme_level_id)
        .outerjoin(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(CertSession.organization_id == organization_id)
        .group_by(Scheme.code, SchemeLevel.level)
        .order_by(Scheme.code, SchemeLevel.level)
    )
    for code, level, *counts in db.exec(query):
        yield (code or "À choisir", level, *(c or 0 for c in counts))


def passport_rows(db: Session, cert_session_id: int) -> Iterator[tuple]:
    """The certified trainees of a session, with their certificate, in the session's order."""
    query = (
        select(
            Trainee.last_name,
            Trainee.first_name,
            Trainee.birth_date,
            Trainee.email,
            CertificateModel.name,
            Certificate.number,
            Certificate.session_end_date,
            Certificate.valid_until,
            Scheme.code,
            SchemeLevel.level,
            CertSession.is_refresher,
            Organization.name,
            Organization.siret,
            Accreditation.number,
            Certificate.verification_code,
        )
        .select_from(Certificate)
        .join(Trainee, Trainee.id == Certificate.trainee_id)
        .join(CertSession, CertSession.id == Certificate.cert_session_id)
        .join(CertificateModel, CertificateModel.id == Certificate.certificate_model_id)
        .join(SchemeLevel, SchemeLevel.id == Certificate.scheme_level_id)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .join(Organization, Organization.id == CertSession.organization_id)
        .outerjoin(Accreditation, Accreditation.id == CertSession.accreditation_id)
        .where(Certificate.cert_session_id == cert_session_id, Trainee.passed == True)  # noqa: E712
        .order_by(Trainee.position, Trainee.id)
        .execution_options(yield_per=500)
    )
    for *fields, refresher, org, siret, accreditation, code in db.exec(query):
        yield (*fields, _training(refresher), org, siret, accreditation, verification_url(code))
