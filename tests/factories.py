"""Small factories: each test builds exactly what it needs."""

import itertools
from datetime import date, timedelta

from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain.passwords import hash_password
from app.models import (
    Accreditation,
    Fund,
    Organization,
    Person,
    RoleGrant,
    Scheme,
    SchemeLevel,
)
from app.models.organizations import OrganizationKind, OrganizationStatus
from app.models.people import Role

PASSWORD = "Mot-de-passe-1"
_counter = itertools.count(1)
# hashing costs ~50 ms; one hash serves every test person
_PASSWORD_HASH = hash_password(PASSWORD)


def fund(db: Session, code: str = "ALSACE-MOSELLE") -> Fund:
    return db.exec(select(Fund).where(Fund.code == code)).one()


def scheme_level(db: Session, scheme_code: str = "SST", level: int = 1) -> SchemeLevel:
    return db.exec(
        select(SchemeLevel)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Scheme.code == scheme_code, SchemeLevel.level == level)
    ).one()


def person(
    db: Session, *, first_name="Marie", last_name="DUPONT", email=None, onboarded=True, **fields
) -> Person:
    n = next(_counter)
    p = Person(
        forprev_number=fields.pop("forprev_number", f"TST{n:05d}"),
        email=email or f"personne{n}@exemple.fr",
        first_name=first_name,
        last_name=last_name,
        birth_date=fields.pop("birth_date", date(1980, 1, 1)),
        password_hash=_PASSWORD_HASH,
        onboarded_at=utcnow() if onboarded else None,
        **fields,
    )
    db.add(p)
    db.flush()
    return p


def grant(db: Session, holder: Person, role: Role, *, organization=None, fund_=None) -> RoleGrant:
    g = RoleGrant(
        person_id=holder.id,
        role=role,
        organization_id=organization.id if organization else None,
        fund_id=fund_.id if fund_ else None,
    )
    db.add(g)
    db.flush()
    return g


def organization(
    db: Session,
    *,
    name=None,
    postal_code="67000",
    kind=OrganizationKind.TRAINING,
    status=OrganizationStatus.VALIDATED,
    fund_code="ALSACE-MOSELLE",
) -> Organization:
    n = next(_counter)
    o = Organization(
        code=f"{n % 100000:05d}",
        kind=kind,
        name=name or f"ENTITÉ {n}",
        postal_code=postal_code,
        city="STRASBOURG",
        address="1 rue Test",
        department_code=postal_code[:2],
        fund_id=fund(db, fund_code).id,
        status=status,
    )
    db.add(o)
    db.flush()
    return o


def accreditation(
    db: Session,
    org: Organization,
    *,
    scheme_code="SST",
    level=1,
    start: date | None = None,
    end: date | None = None,
) -> Accreditation:
    n = next(_counter)
    start = start or today() - timedelta(days=365)
    a = Accreditation(
        number=f"H{org.code}/{start.year}/{scheme_code}-{level}/O/{n:02d}",
        organization_id=org.id,
        scheme_level_id=scheme_level(db, scheme_code, level).id,
        start_date=start,
        end_date=end or today() + timedelta(days=4 * 365),
    )
    db.add(a)
    db.flush()
    return a


def trainer_certificate(
    db: Session, holder: Person, *, scheme_code="SST", level=2, valid_until: date | None = None
):
    """A trainer's qualification: a certificate of `scheme_code` at `level` held by `holder`."""
    from app.models import Certificate, CertificateModel

    sl = scheme_level(db, scheme_code, level)
    model = db.exec(
        select(CertificateModel)
        .where(
            CertificateModel.scheme_level_id == sl.id,
            CertificateModel.issued_in_sessions.is_(True),
        )
        .order_by(CertificateModel.id)
    ).first()
    n = next(_counter)
    c = Certificate(
        number=f"2025-{n:06d}",
        verification_code=f"code-{n}",
        person_id=holder.id,
        certificate_model_id=model.id,
        scheme_level_id=sl.id,
        holder_initials="X. Y.",
        holder_birth_year=1980,
        session_end_date=today() - timedelta(days=100),
        valid_until=valid_until or today() + timedelta(days=700),
    )
    db.add(c)
    db.flush()
    return c


def suspension(db: Session, acc: Accreditation, start: date, end: date):
    from app.models import Suspension

    s = Suspension(accreditation_id=acc.id, start_date=start, end_date=end, reason="Contrôle")
    db.add(s)
    db.flush()
    return s


def closed_session(
    db: Session,
    *,
    org: Organization,
    acc: Accreditation,
    trainer: Person,
    creator: Person,
    trainees: list[tuple[str, str, date, bool]],
    end: date | None = None,
    emails: list[str | None] | None = None,
):
    """A session the entity has just closed ("Générer les certificats")."""
    from app.models import CertificateModel, CertSession, Trainee
    from app.models.cert_sessions import SessionState

    model = db.exec(
        select(CertificateModel).where(CertificateModel.scheme_level_id == acc.scheme_level_id)
    ).first()
    end = end or today()
    cs = CertSession(
        organization_id=org.id,
        accreditation_id=acc.id,
        scheme_level_id=acc.scheme_level_id,
        certificate_model_id=model.id,
        created_by_id=creator.id,
        trainer_id=trainer.id,
        location="Salle A",
        postal_code="67000",
        city="Strasbourg",
        is_refresher=False,
        end_date=end,
        state=SessionState.CLOSED,
        success_count=sum(1 for t in trainees if t[3]),
        closed_at=utcnow(),
        purge_after=today() + timedelta(days=15),
    )
    db.add(cs)
    db.flush()
    for i, (last, first, born, passed) in enumerate(trainees, 1):
        email = emails[i - 1] if emails else None
        db.add(
            Trainee(
                cert_session_id=cs.id,
                position=i,
                last_name=last,
                first_name=first,
                birth_date=born,
                passed=passed,
                email=email,
            )
        )
    db.flush()
    return cs
