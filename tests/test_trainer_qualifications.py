"""The trainer check reads the catalogue's qualifying models (REFERENCE §2): every
dispositif-level a session can be declared for has at least one, a level-2 session of every
dispositif passes with a qualified trainer and fails without one, and a qualification
recorded outside Forprev counts like an issued certificate."""

from datetime import timedelta

import pytest
from sqlmodel import select

from app.clock import today
from app.domain.trainer_check import check_trainer, qualifying_models
from app.models import (
    CertificateModel,
    LevelQualification,
    Qualification,
    Scheme,
    SchemeLevel,
)
from app.models.people import Role
from seeds.reference import SCHEMES
from tests import factories

LEVELS = [(code, level) for code, _name, levels, _t in SCHEMES for level in levels]
LEVEL_2 = [code for code, _name, levels, _t in SCHEMES if 2 in levels]
LEVELS_1_AND_2 = [code for code, _name, levels, _t in SCHEMES if {1, 2} <= set(levels)]


def _level(db, code, level) -> SchemeLevel:
    return factories.scheme_level(db, code, level)


def _trainer(db, number):
    person = factories.person(db, forprev_number=number, email=f"{number.lower()}@exemple.fr")
    factories.grant(db, person, Role.FORMATEUR)
    return person


def _record(db, person, model, *, until=None) -> Qualification:
    row = Qualification(
        person_id=person.id,
        certificate_model_id=model.id,
        valid_from=today() - timedelta(days=30),
        valid_until=until or today() + timedelta(days=700),
    )
    db.add(row)
    db.flush()
    return row


@pytest.mark.parametrize(("code", "level"), LEVELS)
def test_every_dispositif_level_has_a_qualifying_model_of_its_own_dispositif(db, code, level):
    scheme_level = _level(db, code, level)
    models = qualifying_models(db, scheme_level.id)
    assert models, f"{code}-{level} : aucune qualification au catalogue"
    scheme_of = {
        m.id: db.exec(
            select(Scheme.code)
            .join(SchemeLevel, SchemeLevel.scheme_id == Scheme.id)
            .where(SchemeLevel.id == m.scheme_level_id)
        ).one()
        for m in models
    }
    assert set(scheme_of.values()) == {code}


def test_the_defaults_follow_the_reference(db):
    """Level 1: the level-2 formateur certificate; level 2: formateur de formateurs —
    SST-3 for SST, INRS's model (never issued in a session) for the others."""
    names = {
        (code, level): [m.name for m in qualifying_models(db, _level(db, code, level).id)]
        for code, level in LEVELS
    }
    assert names[("SST", 1)] == ["Certificat de formateur SST"]
    assert names[("SST", 2)] == ["Certificat de formateur de formateurs SST"]
    assert names[("CATEC", 1)] == ["Certificat de formateur CATEC"]
    assert names[("CATEC", 2)] == ["Certificat de formateur de formateurs CATEC"]
    assert names[("AMIANTE-SS4", 2)] == ["Certificat de formateur de formateurs amiante SS4"]
    inrs = db.exec(
        select(CertificateModel).where(CertificateModel.issued_in_sessions.is_(False))
    ).all()
    assert {m.name for m in inrs} == {
        "Certificat de formateur de formateurs PRAP IBC",
        "Certificat de formateur de formateurs PRAP 2S",
        "Certificat de formateur de formateurs ALM",
        "Certificat de formateur de formateurs APS-ASD",
        "Certificat de formateur de formateurs CATEC",
        "Certificat de formateur de formateurs échafaudage",
        "Certificat de formateur de formateurs amiante SS4",
    }


@pytest.mark.parametrize("code", LEVEL_2)
def test_a_level_2_session_of_every_dispositif_passes_with_a_qualified_trainer(db, code):
    level = _level(db, code, 2)
    trainer = _trainer(db, "QUA00001")
    db.commit()
    refused = check_trainer(
        db, scheme_level_id=level.id, end_date=today(), forprev_number="QUA00001"
    )
    assert not refused.ok and not refused.lines[2].ok
    assert f"une session {code} niveau 2" in refused.failure
    (model,) = qualifying_models(db, level.id)
    assert model.name in refused.failure
    _record(db, trainer, model)
    db.commit()
    passed = check_trainer(
        db, scheme_level_id=level.id, end_date=today(), forprev_number="QUA00001"
    )
    assert passed.ok, passed.failure
    assert passed.lines[2].message.startswith(model.name)


@pytest.mark.parametrize("code", LEVELS_1_AND_2)
def test_a_level_1_session_passes_with_the_level_2_certificate(db, code):
    trainer = _trainer(db, "QUA00002")
    factories.trainer_certificate(db, trainer, scheme_code=code, level=2)
    db.commit()
    level_1 = _level(db, code, 1)
    assert check_trainer(
        db, scheme_level_id=level_1.id, end_date=today(), forprev_number="QUA00002"
    ).ok
    # the level-2 certificate does not qualify for a level-2 session
    level_2 = _level(db, code, 2)
    assert not check_trainer(
        db, scheme_level_id=level_2.id, end_date=today(), forprev_number="QUA00002"
    ).ok


def test_a_recorded_qualification_must_cover_the_session_end(db):
    level = _level(db, "CATEC", 2)
    trainer = _trainer(db, "QUA00003")
    (model,) = qualifying_models(db, level.id)
    until = today() + timedelta(days=10)
    _record(db, trainer, model, until=until)
    db.commit()
    assert check_trainer(db, scheme_level_id=level.id, end_date=until, forprev_number="QUA00003").ok
    late = check_trainer(
        db, scheme_level_id=level.id, end_date=until + timedelta(days=1), forprev_number="QUA00003"
    )
    assert late.failure == (
        f"Sa qualification « {model.name} » a pris fin le {until:%d/%m/%Y}, avant la date de "
        f"fin de session ({until + timedelta(days=1):%d/%m/%Y})."
    )


def test_the_longest_qualification_counts_whichever_its_source(db):
    """An issued certificate expiring soon and a recorded one lasting longer: the check
    names the one that lasts."""
    level = _level(db, "SST", 1)
    trainer = _trainer(db, "QUA00004")
    factories.trainer_certificate(db, trainer, valid_until=today() + timedelta(days=5))
    (model,) = qualifying_models(db, level.id)
    _record(db, trainer, model, until=today() + timedelta(days=400))
    db.commit()
    end = today() + timedelta(days=100)
    result = check_trainer(db, scheme_level_id=level.id, end_date=end, forprev_number="QUA00004")
    assert result.ok
    assert f"{today() + timedelta(days=400):%d/%m/%Y}" in result.lines[2].message


def test_a_level_without_any_qualification_says_the_catalogue_must_name_one(db):
    level = _level(db, "ALM", 2)
    trainer = _trainer(db, "QUA00005")
    rows = db.exec(
        select(LevelQualification).where(LevelQualification.scheme_level_id == level.id)
    ).all()
    kept = [(r.scheme_level_id, r.certificate_model_id) for r in rows]
    _record(db, trainer, qualifying_models(db, level.id)[0])
    for row in rows:
        db.delete(row)
    db.commit()
    try:
        result = check_trainer(
            db, scheme_level_id=level.id, end_date=today(), forprev_number="QUA00005"
        )
        assert result.failure == (
            "Le catalogue ne dit pas encore quelle qualification permet d'animer une session "
            "ALM niveau 2 : l'administrateur doit la renseigner."
        )
    finally:
        for scheme_level_id, model_id in kept:
            db.add(
                LevelQualification(scheme_level_id=scheme_level_id, certificate_model_id=model_id)
            )
        db.commit()


def test_a_model_given_outside_sessions_is_not_offered_as_a_session_certificate(db):
    from app.domain.cert_session_rules import models_of

    level = _level(db, "CATEC", 2)
    assert [m.name for m in models_of(db, level.id)] == ["Certificat de formateur CATEC"]


def test_a_qualification_starting_after_the_session_end_does_not_count(db):
    level = _level(db, "CATEC", 2)
    trainer = _trainer(db, "QUA00006")
    (model,) = qualifying_models(db, level.id)
    start = today() + timedelta(days=20)
    db.add(
        Qualification(
            person_id=trainer.id,
            certificate_model_id=model.id,
            valid_from=start,
            valid_until=start + timedelta(days=700),
        )
    )
    db.commit()
    end = today() + timedelta(days=10)
    result = check_trainer(db, scheme_level_id=level.id, end_date=end, forprev_number="QUA00006")
    assert result.failure == (
        f"Sa qualification « {model.name} » ne commence que le {start:%d/%m/%Y}, après la date "
        f"de fin de session ({end:%d/%m/%Y})."
    )
    assert check_trainer(db, scheme_level_id=level.id, end_date=start, forprev_number="QUA00006").ok


def test_the_qualification_valid_at_the_session_end_is_the_one_judged(db):
    """An old one still valid at the session's end and a renewal starting after it: the
    check takes the one that covers the end, not the one lasting longest."""
    level = _level(db, "CATEC", 2)
    trainer = _trainer(db, "QUA00007")
    (model,) = qualifying_models(db, level.id)
    _record(db, trainer, model, until=today() + timedelta(days=40))
    db.add(
        Qualification(
            person_id=trainer.id,
            certificate_model_id=model.id,
            valid_from=today() + timedelta(days=41),
            valid_until=today() + timedelta(days=1000),
        )
    )
    db.commit()
    end = today() + timedelta(days=30)
    assert check_trainer(db, scheme_level_id=level.id, end_date=end, forprev_number="QUA00007").ok


def test_an_account_never_activated_is_found_and_a_deactivated_one_is_named(db):
    """An imported trainer (no password yet) runs sessions; a deactivated one is refused
    with the reason, not as an unknown person."""
    from app.clock import utcnow

    level = _level(db, "SST", 1)
    imported = _trainer(db, "QUA00008")
    imported.password_hash, imported.active = None, False
    factories.trainer_certificate(db, imported)
    db.add(imported)
    db.commit()
    assert check_trainer(
        db, scheme_level_id=level.id, end_date=today(), forprev_number="QUA00008"
    ).ok
    imported.deactivated_at = utcnow()
    db.add(imported)
    db.commit()
    refused = check_trainer(
        db, scheme_level_id=level.id, end_date=today(), forprev_number="QUA00008"
    )
    assert refused.failure == (
        "Le compte de Marie DUPONT (QUA00008) a été désactivé : cette personne ne peut pas "
        "animer de session."
    )
