"""Two administrators removing the last two qualifications of a level with a session in
progress, at the same instant: one is removed, the other refused (PostgreSQL, where two
transactions really run at once)."""

import threading

import pytest
from sqlmodel import Session, select

from app.domain import catalogue
from app.domain.errors import DomainError
from app.models import CertificateModel, CertSession, LevelQualification
from app.models.cert_sessions import SessionState
from tests import factories
from tests.conftest import is_postgres


@pytest.mark.skipif(not is_postgres(), reason="SQLite runs one write at a time")
def test_the_last_two_qualifications_removed_at_once_leave_one(app, db):
    level = factories.scheme_level(db, "ALM", 2)
    (first,) = db.exec(
        select(LevelQualification).where(LevelQualification.scheme_level_id == level.id)
    ).all()
    other_model = db.exec(
        select(CertificateModel).where(CertificateModel.name == "Certificat de formateur ALM")
    ).one()
    second = LevelQualification(scheme_level_id=level.id, certificate_model_id=other_model.id)
    db.add(second)
    org = factories.organization(db)
    creator = factories.person(db)
    db.add(
        CertSession(
            organization_id=org.id,
            scheme_level_id=level.id,
            certificate_model_id=other_model.id,
            created_by_id=creator.id,
            state=SessionState.DRAFT,
        )
    )
    db.commit()
    engine = app.extensions["forprev_engine"]
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def remove(row_id: int) -> None:
        with Session(engine) as own:
            barrier.wait()
            try:
                catalogue.remove_qualification(
                    own, actor_id=None, level_id=level.id, qualification_id=row_id
                )
                own.commit()
                outcomes[row_id] = "retirée"
            except DomainError as refused:
                own.rollback()
                outcomes[row_id] = refused.message

    try:
        threads = [threading.Thread(target=remove, args=(r,)) for r in (first.id, second.id)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(o == "retirée" for o in outcomes.values()) == [False, True], outcomes
        refusal = next(o for o in outcomes.values() if o != "retirée")
        assert refusal.startswith("C'est la dernière qualification de ce niveau et 1 session")
        db.expire_all()
        left = db.exec(
            select(LevelQualification).where(LevelQualification.scheme_level_id == level.id)
        ).all()
        assert len(left) == 1
    finally:
        # the catalogue as the seed left it: ALM-2's one qualification
        for row in db.exec(
            select(LevelQualification).where(LevelQualification.scheme_level_id == level.id)
        ).all():
            db.delete(row)
        db.flush()
        db.add(
            LevelQualification(
                scheme_level_id=level.id, certificate_model_id=first.certificate_model_id
            )
        )
        db.commit()
