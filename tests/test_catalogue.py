"""The administrator's catalogue: the list of dispositifs and levels, each level's page
with its small forms (dispositif, session rules, certificate models, documents, trainer
qualifications), their inline checks, the history of changes, stale forms (409), and the
rules of the session screens reading what the administrator set.

The catalogue tables are reference data, not cleaned between tests: `restored` puts back
every row a test changes, adds or removes."""

import html as html_text
import re
from datetime import date, timedelta

import pytest
from sqlmodel import SQLModel, select

from app.clock import today
from app.domain import catalogue
from app.domain.accreditation_flow import _technical_level
from app.domain.cert_session_rules import check_group_size
from app.domain.certificate_issue import issue_certificates, valid_until
from app.domain.errors import ConflictError, DomainError
from app.domain.trainer_check import check_trainer
from app.models import (
    AuditEvent,
    CertificateModel,
    CertSession,
    DocumentRequirement,
    LevelQualification,
    Scheme,
    SchemeLevel,
)
from app.models.cert_sessions import SessionState
from app.models.people import Role
from tests import factories
from tests.conftest import _clean, csrf_token
from tests.factories import grant, person

CATALOGUE_TABLES = [
    "scheme",
    "schemelevel",
    "certificatemodel",
    "documentrequirement",
    "levelqualification",
]


@pytest.fixture
def restored(app, db):
    """Every catalogue row as it was before the test, whatever the test changed."""
    engine = app.extensions["forprev_engine"]
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    with engine.connect() as conn:
        saved = {
            name: {row.id: dict(row._mapping) for row in conn.execute(tables[name].select())}
            for name in CATALOGUE_TABLES
        }
    try:
        yield
    finally:
        db.close()  # its open transaction would hold the tables being cleaned
        _clean(engine)  # sessions and certificates first: they point at catalogue rows
        with engine.begin() as conn:
            for name in reversed(CATALOGUE_TABLES):
                table = tables[name]
                extra = {r.id for r in conn.execute(select(table.c.id))} - saved[name].keys()
                if extra:
                    conn.execute(table.delete().where(table.c.id.in_(extra)))
            for name in CATALOGUE_TABLES:
                table = tables[name]
                present = {r.id for r in conn.execute(select(table.c.id))}
                for row_id, values in saved[name].items():
                    if row_id in present:
                        conn.execute(table.update().where(table.c.id == row_id).values(**values))
                    else:
                        conn.execute(table.insert().values(**values))


def _admin(db):
    admin = person(db, first_name="Inès", last_name="ROUSSEL")
    grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    return admin


def _model(db, name: str) -> CertificateModel:
    return db.exec(select(CertificateModel).where(CertificateModel.name == name)).one()


def _page_url(level: SchemeLevel) -> str:
    return f"/catalogue/niveaux/{level.id}"


def _post(client, url: str, data: dict, page: str, **headers):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)}, headers=headers)


def _model_form(model: CertificateModel, **typed) -> dict:
    """The model's form as shown (its values and the hidden `was_…`), with `typed` changes."""
    shown = {
        "name": model.name,
        "validity_months": str(model.validity_months),
        "active": "y" if model.active else "",
        "issued_in_sessions": "y" if model.issued_in_sessions else "",
    }
    data = {**shown, **typed}
    data = {k: v for k, v in data.items() if v != ""}
    data.update({f"was_{k}": catalogue.shown(getattr(model, k)) for k in shown})
    return data


RULE_NAMES = [
    "min_trainees",
    "max_trainees",
    "warn_above",
    "initial_hours",
    "mac_hours",
    "programme_required",
    "inrs_only",
]


def _rules_form(level: SchemeLevel, **typed) -> dict:
    data = {}
    for name in RULE_NAMES:
        value = getattr(level, name)
        if isinstance(value, bool):
            data[name] = "y" if value else ""
        else:
            data[name] = "" if value is None else str(value)
    data.update(typed)
    data = {k: v for k, v in data.items() if v != ""}
    data.update({f"was_{n}": catalogue.shown(getattr(level, n)) for n in RULE_NAMES})
    return data


def _events(db) -> int:
    return len(db.exec(select(AuditEvent.id)).all())


def _text(response) -> str:
    return html_text.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


# --- the list --------------------------------------------------------------------------


def test_catalogue_lists_schemes_levels_and_certificates(client, login_as, db):
    admin = person(db)
    grant(db, admin, "administrateur")
    db.commit()
    response = login_as(admin).get("/catalogue/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Sauveteur Secouriste du Travail" in html or "(SST)" in html
    assert "(CATEC)" in html
    assert "Exigences techniques" in html
    assert "mois)" in html  # certificate validity
    # each level opens its own page
    sst1 = factories.scheme_level(db, "SST", 1)
    assert f'href="/catalogue/niveaux/{sst1.id}"' in html


def test_catalogue_is_for_administrators_only(client, login_as, db):
    trainer = person(db)
    grant(db, trainer, "formateur")
    db.commit()
    assert login_as(trainer).get("/catalogue/").status_code == 403


# --- a level's page --------------------------------------------------------------------


def test_level_page_shows_rules_models_qualifications_and_documents(client, login_as, db):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    html = _text(login_as(admin).get(_page_url(sst1)))
    assert "Règles des sessions de niveau 1" in html
    assert 'name="max_trainees" type="text" value="14"' in html
    assert 'name="was_max_trainees" value="14"' in html
    assert "Certificat de sauveteur secouriste du travail" in html
    # the trainer of an SST-1 session holds the level-2 "formateur" certificate
    assert "Certificat de formateur SST (niveau 2)" in html
    assert "Lettre d'engagement signée" in html
    assert "Aucune modification depuis la mise en service." in html


# --- bad input: refused with its message, nothing changed ---------------------------------


@pytest.mark.parametrize(
    "validity",
    ["0", "999", "-3", "douze", ""],
)
def test_a_validity_out_of_1_to_120_months_is_refused(client, login_as, db, restored, validity):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    model = _model(db, "Certificat de sauveteur secouriste du travail")
    before = _events(db)
    url = f"/catalogue/niveaux/{sst1.id}/certificats/{model.id}"
    response = _post(
        login_as(admin),
        url,
        _model_form(model, validity_months=validity, name="Autre nom"),
        _page_url(sst1),
    )
    assert response.status_code == 422
    html = _text(response)
    assert "La durée de validité doit être comprise entre 1 et 120 mois" in html
    # next to its field, the other input kept
    assert f'id="m{model.id}-validity_months-erreur"' in html
    assert 'value="Autre nom"' in html
    db.expire_all()
    assert _model(db, "Certificat de sauveteur secouriste du travail").validity_months == 24
    assert _events(db) == before


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        (
            {"min_trainees": "12", "max_trainees": "5", "warn_above": ""},
            "max_trainees",
            "Le nombre maximum de stagiaires (5) ne peut pas être inférieur au minimum (12).",
        ),
        (
            {"warn_above": "20"},
            "warn_above",
            "Le seuil d'avertissement doit être compris entre 4 et 13 stagiaires",
        ),
        (
            {"warn_above": "2"},
            "warn_above",
            "Le seuil d'avertissement doit être compris entre 4 et 13 stagiaires",
        ),
        (
            {"warn_above": "14"},
            "warn_above",
            "Le seuil d'avertissement doit être compris entre 4 et 13 stagiaires",
        ),
        (
            {"min_trainees": "0"},
            "min_trainees",
            "Saisissez un nombre de stagiaires entre 1 et 100.",
        ),
        ({"max_trainees": ""}, "max_trainees", "Saisissez un nombre de stagiaires entre 1 et 100."),
        ({"initial_hours": "quatorze"}, "initial_hours", "Saisissez une durée en heures"),
    ],
)
def test_bad_session_rules_are_refused(client, login_as, db, restored, typed, field, message):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    before = _events(db)
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst1.id}/regles",
        _rules_form(sst1, mac_hours="9", **typed),
        _page_url(sst1),
    )
    assert response.status_code == 422
    html = _text(response)
    assert message in html
    assert f'id="regles-{field}-erreur"' in html
    assert 'name="mac_hours" type="text" value="9"' in html  # the rest kept as typed
    db.expire_all()
    level = db.get(SchemeLevel, sst1.id)
    assert (level.min_trainees, level.max_trainees, level.warn_above, level.mac_hours) == (
        4,
        14,
        10,
        7,
    )
    assert _events(db) == before


def test_inline_check_uses_the_save_rule_and_saves_nothing(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    model = _model(db, "Certificat de sauveteur secouriste du travail")
    client = login_as(admin)
    url = f"/catalogue/niveaux/{sst1.id}/certificats/{model.id}/verifier"
    refused = _post(
        client,
        url,
        _model_form(model, validity_months="999"),
        _page_url(sst1),
        **{"HX-Request": "true"},
    )
    assert refused.status_code == 422
    assert "entre 1 et 120 mois" in _text(refused)
    assert '<div id="niveau">' in refused.get_data(as_text=True)  # the panel, no page
    accepted = _post(client, url, _model_form(model, validity_months="30"), _page_url(sst1))
    assert accepted.status_code == 200
    assert "entre 1 et 120 mois" not in _text(accepted)
    rules = _post(
        client,
        f"/catalogue/niveaux/{sst1.id}/regles/verifier",
        _rules_form(sst1, warn_above="40"),
        _page_url(sst1),
    )
    assert rules.status_code == 422
    assert "Le seuil d'avertissement doit être compris entre 4 et 13" in _text(rules)
    db.expire_all()
    assert db.get(CertificateModel, model.id).validity_months == 24
    assert db.get(SchemeLevel, sst1.id).warn_above == 10


def test_a_qualification_of_another_dispositif_is_refused(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    catec = _model(db, "Certificat de formateur CATEC")
    before = db.exec(
        select(LevelQualification.certificate_model_id).where(
            LevelQualification.scheme_level_id == sst1.id
        )
    ).all()
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst1.id}/qualifications",
        {"model_id": str(catec.id)},
        _page_url(sst1),
    )
    assert response.status_code == 422
    assert "Ce certificat n'appartient pas au dispositif SST" in _text(response)
    assert 'id="qualification-model_id-erreur"' in response.get_data(as_text=True)
    db.expire_all()
    after = db.exec(
        select(LevelQualification.certificate_model_id).where(
            LevelQualification.scheme_level_id == sst1.id
        )
    ).all()
    assert sorted(after) == sorted(before)
    with pytest.raises(DomainError) as refused:
        catalogue.add_qualification(db, actor_id=None, level_id=sst1.id, model_id=catec.id)
    assert refused.value.field == "model_id"


def _sessions(db, level: SchemeLevel, states: list[str]) -> None:
    org = factories.organization(db)
    creator = person(db)
    model = db.exec(
        select(CertificateModel).where(CertificateModel.scheme_level_id == level.id)
    ).first()
    for state in states:
        db.add(
            CertSession(
                organization_id=org.id,
                scheme_level_id=level.id,
                certificate_model_id=model.id,
                created_by_id=creator.id,
                state=state,
            )
        )
    db.commit()


def _only_qualification(db, level: SchemeLevel) -> LevelQualification:
    rows = db.exec(
        select(LevelQualification).where(LevelQualification.scheme_level_id == level.id)
    ).all()
    assert len(rows) == 1
    return rows[0]


def test_removing_the_last_qualification_with_sessions_in_progress_is_refused(
    client, login_as, db, restored
):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    _sessions(
        db,
        sst1,
        [SessionState.DRAFT, SessionState.TRAINER, SessionState.ENTITY, SessionState.CLOSED],
    )
    only = _only_qualification(db, sst1)
    before = _events(db)
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst1.id}/qualifications/{only.id}/retirer",
        {},
        _page_url(sst1),
    )
    assert response.status_code == 422
    # the closed session does not count
    assert "C'est la dernière qualification de ce niveau et 3 sessions en cours" in _text(response)
    db.expire_all()
    assert db.get(LevelQualification, only.id) is not None
    assert _events(db) == before


def test_removing_the_last_qualification_without_sessions_warns_and_fails_the_check(
    client, login_as, db, restored
):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    _sessions(db, sst1, [SessionState.CLOSED])
    trainer = person(db)
    grant(db, trainer, Role.FORMATEUR)
    factories.trainer_certificate(db, trainer, scheme_code="SST", level=2)
    db.commit()
    end = today() + timedelta(days=10)
    assert check_trainer(
        db, scheme_level_id=sst1.id, end_date=end, forprev_number=trainer.forprev_number
    ).ok
    only = _only_qualification(db, sst1)
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst1.id}/qualifications/{only.id}/retirer",
        {},
        _page_url(sst1),
        **{"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = _text(response)
    assert "Qualification retirée." in html
    assert "Aucun certificat ne qualifie les formateurs de ce niveau" in html
    db.expire_all()
    check = check_trainer(
        db, scheme_level_id=sst1.id, end_date=end, forprev_number=trainer.forprev_number
    )
    assert not check.ok
    assert "Le catalogue ne dit pas encore quelle qualification" in check.failure


# --- edits reach the session screens ----------------------------------------------------


def test_group_size_follows_the_catalogue(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    assert check_group_size(sst1, 13) == (
        None,
        "Au-delà de 10 stagiaires, la session dure une heure de plus par stagiaire "
        "supplémentaire : 3 heures de plus ici.",
    )
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst1.id}/regles",
        _rules_form(sst1, max_trainees="12", warn_above="8"),
        _page_url(sst1),
    )
    assert response.status_code == 302
    db.expire_all()
    level = db.get(SchemeLevel, sst1.id)
    error, _warning = check_group_size(level, 13)
    assert error.startswith("Une session de ce dispositif compte au plus 12 stagiaires")
    assert check_group_size(level, 9)[1].startswith("Au-delà de 8 stagiaires")


def test_the_trainer_check_follows_the_qualifications(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    trainer = person(db)
    grant(db, trainer, Role.FORMATEUR)
    # a "formateur de formateurs SST" only: not what an SST-1 session asks by default
    factories.trainer_certificate(db, trainer, scheme_code="SST", level=3)
    db.commit()
    end = today() + timedelta(days=10)

    def check():
        db.expire_all()
        return check_trainer(
            db, scheme_level_id=sst1.id, end_date=end, forprev_number=trainer.forprev_number
        )

    assert not check().ok
    sst3_model = _model(db, "Certificat de formateur de formateurs SST")
    client = login_as(admin)
    added = _post(
        client,
        f"/catalogue/niveaux/{sst1.id}/qualifications",
        {"model_id": str(sst3_model.id)},
        _page_url(sst1),
    )
    assert added.status_code == 302
    assert check().ok
    row = db.exec(
        select(LevelQualification).where(
            LevelQualification.scheme_level_id == sst1.id,
            LevelQualification.certificate_model_id == sst3_model.id,
        )
    ).one()
    removed = _post(
        client,
        f"/catalogue/niveaux/{sst1.id}/qualifications/{row.id}/retirer",
        {},
        _page_url(sst1),
    )
    assert removed.status_code == 302
    assert not check().ok
    html = _text(client.get(_page_url(sst1)))
    assert "Niveau « SST niveau 1 » qualification ajoutée" in html
    assert "Qualification du formateur : — → Certificat de formateur de formateurs SST" in html
    assert "Niveau « SST niveau 1 » qualification retirée" in html


def test_the_technique_tab_and_programme_documents_follow_the_switches(
    client, login_as, db, restored
):
    admin = _admin(db)
    catec1 = factories.scheme_level(db, "CATEC", 1)
    catec = db.get(Scheme, catec1.scheme_id)
    assert _technical_level(db, catec1.id)
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{catec1.id}/dispositif",
        {
            "name": catec.name,
            "active": "y",
            "was_name": catec.name,
            "was_active": "1",
            "was_technical_requirements": "1",
        },
        _page_url(catec1),
    )
    assert response.status_code == 302
    db.expire_all()
    assert not _technical_level(db, catec1.id)
    technical = db.exec(
        select(DocumentRequirement)
        .join(SchemeLevel, SchemeLevel.id == DocumentRequirement.scheme_level_id)
        .where(SchemeLevel.scheme_id == catec.id, DocumentRequirement.tab == "technique")
    ).all()
    assert technical and not any(r.required for r in technical)
    catalogue.update_level_rules(
        db,
        actor_id=admin.id,
        level_id=catec1.id,
        data={**_rules_form(catec1), "programme_required": False},
        shown_values={n: catalogue.shown(getattr(catec1, n)) for n in RULE_NAMES},
    )
    db.commit()
    programme = db.exec(
        select(DocumentRequirement).where(
            DocumentRequirement.scheme_level_id == catec1.id,
            DocumentRequirement.kind == "programme",
        )
    ).one()
    assert programme.required is False


# --- issued certificates are never rewritten ---------------------------------------------


def test_a_new_validity_leaves_issued_certificates_unchanged(client, login_as, db, restored):
    admin = _admin(db)
    org = factories.organization(db)
    manager = person(db)
    trainer = person(db)
    acc = factories.accreditation(db, org, scheme_code="SST", level=1)
    end = today() - timedelta(days=3)
    cs = factories.closed_session(
        db,
        org=org,
        acc=acc,
        trainer=trainer,
        creator=manager,
        trainees=[("MARTIN", "Paul", date(1990, 4, 2), True)],
        end=end,
    )
    [certificate] = issue_certificates(db, cs)
    db.commit()
    model = db.get(CertificateModel, certificate.certificate_model_id)
    issued_until = certificate.valid_until
    assert issued_until == valid_until(end, model)  # 24 months from the end
    sst1 = factories.scheme_level(db, "SST", 1)
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst1.id}/certificats/{model.id}",
        _model_form(model, validity_months=str(model.validity_months + 12)),
        _page_url(sst1),
    )
    assert response.status_code == 302
    db.expire_all()
    model = db.get(CertificateModel, model.id)
    assert model.validity_months == 36
    assert db.get(type(certificate), certificate.id).valid_until == issued_until
    # what is issued from now on takes the new validity
    assert valid_until(end, model) > issued_until


# --- history, conflicts, permissions -----------------------------------------------------


def test_history_shows_who_changed_what(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    model = _model(db, "Certificat de sauveteur secouriste du travail")
    client = login_as(admin)
    _post(
        client,
        f"/catalogue/niveaux/{sst1.id}/certificats/{model.id}",
        _model_form(model, validity_months="30"),
        _page_url(sst1),
    )
    event = db.exec(select(AuditEvent).where(AuditEvent.object_type == "certificate_model")).one()
    assert (event.actor_id, event.object_id, event.data) == (
        admin.id,
        model.id,
        {"validity_months": [24, 30]},
    )
    html = _text(client.get(_page_url(sst1)))
    assert (
        "Inès ROUSSEL : Certificat « Certificat de sauveteur secouriste du travail » modifié"
        in (html)
    )
    assert "Validité (mois) : 24 → 30" in html


def test_adding_a_model_is_audited_and_a_duplicate_name_refused(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    client = login_as(admin)
    url = f"/catalogue/niveaux/{sst1.id}/certificats"
    duplicate = _post(
        client,
        url,
        {"name": "Certificat de sauveteur secouriste du travail", "validity_months": "24"},
        _page_url(sst1),
    )
    assert duplicate.status_code == 422
    assert "Ce niveau a déjà un certificat de ce nom" in _text(duplicate)
    added = _post(
        client,
        url,
        {"name": "Certificat SST — milieu agricole", "validity_months": "24", "active": "y"},
        _page_url(sst1),
    )
    assert added.status_code == 302
    model = _model(db, "Certificat SST — milieu agricole")
    assert (model.scheme_level_id, model.active, model.issued_in_sessions) == (
        sst1.id,
        True,
        False,
    )
    html = _text(client.get(_page_url(sst1)))
    assert "Certificat « Certificat SST — milieu agricole » ajouté" in html


def test_a_stale_form_is_refused_with_409_and_changes_nothing(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    model = _model(db, "Certificat de sauveteur secouriste du travail")
    form = _model_form(model, validity_months="30")
    # someone else saved 48 months after this form was shown 24
    model.validity_months = 48
    db.add(model)
    db.commit()
    before = _events(db)
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst1.id}/certificats/{model.id}",
        form,
        _page_url(sst1),
    )
    assert response.status_code == 409
    html = _text(response)
    assert "rechargez la page pour voir les valeurs actuelles" in html
    assert 'name="validity_months" type="text" value="48"' in html  # as stored now
    db.expire_all()
    assert db.get(CertificateModel, model.id).validity_months == 48
    assert _events(db) == before
    with pytest.raises(ConflictError):
        catalogue.update_model(
            db,
            actor_id=admin.id,
            model_id=model.id,
            data={"name": model.name, "validity_months": "30", "active": True},
            shown_values={
                "name": model.name,
                "validity_months": "24",
                "active": "1",
                "issued_in_sessions": "1",
            },
        )


def test_a_form_without_its_shown_values_is_refused(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst1.id}/regles",
        {"min_trainees": "4", "max_trainees": "9"},
        _page_url(sst1),
    )
    assert response.status_code == 400
    db.expire_all()
    assert db.get(SchemeLevel, sst1.id).max_trainees == 14


def test_only_an_administrator_edits_the_catalogue(client, login_as, db, restored):
    manager = person(db)
    org = factories.organization(db)
    grant(db, manager, Role.GESTIONNAIRE, organization=org)
    db.commit()
    sst1 = factories.scheme_level(db, "SST", 1)
    model = _model(db, "Certificat de sauveteur secouriste du travail")
    client = login_as(manager)
    assert client.get(_page_url(sst1)).status_code == 403
    response = _post(
        client,
        f"/catalogue/niveaux/{sst1.id}/certificats/{model.id}",
        _model_form(model, validity_months="30"),
        "/",
    )
    assert response.status_code == 403
    assert "Accès refusé" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(CertificateModel, model.id).validity_months == 24


def test_ids_of_another_level_are_not_found(client, login_as, db, restored):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    sst2 = factories.scheme_level(db, "SST", 2)
    model = _model(db, "Certificat de sauveteur secouriste du travail")
    client = login_as(admin)
    response = _post(
        client,
        f"/catalogue/niveaux/{sst2.id}/certificats/{model.id}",
        _model_form(model, validity_months="30"),
        _page_url(sst1),
    )
    assert response.status_code == 404
    assert client.get("/catalogue/niveaux/999999").status_code == 404
    db.expire_all()
    assert db.get(CertificateModel, model.id).validity_months == 24


@pytest.mark.parametrize(
    ("target", "data", "field", "message"),
    [
        (
            "dispositif",
            {"name": "   ", "active": "y"},
            "name",
            "Le nom du dispositif doit être renseigné.",
        ),
        (
            "document",
            {"label": "", "required": "y"},
            "label",
            "L'intitulé du document doit être renseigné.",
        ),
        (
            "document",
            {"label": "Programme", "help_text": "x" * 501},
            "help_text",
            "L'aide : 500 caractères au plus.",
        ),
    ],
)
def test_a_dispositif_or_document_without_its_text_is_refused(
    client, login_as, db, restored, target, data, field, message
):
    admin = _admin(db)
    sst1 = factories.scheme_level(db, "SST", 1)
    scheme = db.get(Scheme, sst1.scheme_id)
    document = db.exec(
        select(DocumentRequirement).where(
            DocumentRequirement.scheme_level_id == sst1.id, DocumentRequirement.kind == "programme"
        )
    ).one()
    if target == "dispositif":
        url, key, obj, names = (
            f"/catalogue/niveaux/{sst1.id}/dispositif",
            "dispositif",
            scheme,
            ["name", "active", "technical_requirements"],
        )
    else:
        url, key, obj, names = (
            f"/catalogue/niveaux/{sst1.id}/documents/{document.id}",
            f"doc{document.id}",
            document,
            ["label", "help_text", "required"],
        )
    before = (scheme.name, document.label, document.help_text, _events(db))
    response = _post(
        login_as(admin),
        url,
        {**data, **{f"was_{n}": catalogue.shown(getattr(obj, n)) for n in names}},
        _page_url(sst1),
    )
    assert response.status_code == 422
    html = _text(response)
    assert message in html
    assert f'id="{key}-{field}-erreur"' in html
    db.expire_all()
    scheme = db.get(Scheme, scheme.id)
    document = db.get(DocumentRequirement, document.id)
    assert (scheme.name, document.label, document.help_text, _events(db)) == before


def test_an_htmx_save_answers_the_panel_with_its_message_and_history(
    client, login_as, db, restored
):
    admin = _admin(db)
    sst2 = factories.scheme_level(db, "SST", 2)
    response = _post(
        login_as(admin),
        f"/catalogue/niveaux/{sst2.id}/regles",
        _rules_form(sst2, max_trainees="12"),
        _page_url(sst2),
        **{"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = _text(response)
    assert '<div id="niveau">' in html
    assert "<h1>" not in html  # the panel alone
    assert "Règles de session enregistrées." in html
    assert "Nombre maximum de stagiaires : 10 → 12" in html
    assert 'name="was_max_trainees" value="12"' in html  # the next save compares with 12
