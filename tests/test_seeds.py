"""Reference and demo data load idempotently; every demo login printed by `bin/run`
works; the demo's dates follow today."""

import io
from collections import Counter

from pypdf import PdfReader
from sqlmodel import func, select

from app.clock import today
from app.domain import accreditation_flow as flow
from app.domain.access import grants_of
from app.domain.storage import get_storage
from app.models import (
    Accreditation,
    AccreditationRequest,
    AuditEvent,
    CertSession,
    Department,
    Equipment,
    Fund,
    Notification,
    Organization,
    Person,
    Platform,
    RequestDocument,
    Scheme,
    SchemeLevel,
    StoredFile,
    Suspension,
)
from app.models.accreditations import OPEN_REQUEST_PHASES, RequestPhase
from seeds.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo
from seeds.reference import FUNDS, load_reference
from tests.conftest import run_flask


def _count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def test_reference_loads_twice_without_duplicates(db):
    before = {m: _count(db, m) for m in (Fund, Department, Scheme)}
    load_reference(db)
    db.commit()
    assert {m: _count(db, m) for m in (Fund, Department, Scheme)} == before
    assert before[Fund] == len(FUNDS) == 21  # REFERENCE.md §1
    # 96 metropolitan (2A and 2B for Corsica) and 971–974, 976, 977, 978
    assert before[Department] == 103


def test_demo_loads_once_and_every_login_works(db, client, auth):
    assert load_demo(db) is True
    db.commit()
    models = (
        Person,
        Accreditation,
        CertSession,
        AccreditationRequest,
        RequestDocument,
        StoredFile,
        Platform,
        Equipment,
        AuditEvent,
        Notification,
    )
    counts = {m: _count(db, m) for m in models}
    assert load_demo(db) is False
    db.commit()
    assert {m: _count(db, m) for m in models} == counts

    for _label, email, number in DEMO_LOGINS:
        for identifier in (email, number):
            response = auth.login(identifier, DEMO_PASSWORD)
            assert response.status_code == 302, (identifier, response.get_data(as_text=True))
            assert auth.logout().status_code == 302


def test_the_three_role_person_of_the_demo(db):
    load_demo(db)
    db.commit()
    romain = db.exec(select(Person).where(Person.forprev_number == "ROM37899")).one()
    labels = [role.label for role in grants_of(db, romain.id)]
    assert labels == [
        "Gestionnaire — MAROSE FORMATION",
        "Gestionnaire — FORMATION GUY",
        "Formateur",
    ]


def test_demo_dates_are_relative_to_today(db):
    load_demo(db)
    db.commit()
    ends = db.exec(select(Accreditation.end_date)).all()
    assert any(end < today() for end in ends), "une habilitation expirée"
    assert any(0 <= (end - today()).days < 183 for end in ends), "une qui expire sous 6 mois"
    assert any((end - today()).days > 365 for end in ends), "une habilitation valide"


def test_seed_commands_from_the_shell(database_url):
    env = {"FORPREV_ENV": "test", "FORPREV_DATABASE_URL": database_url}
    first = run_flask("seed", "demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "Données de démonstration chargées." in first.stdout
    again = run_flask("seed", "demo", env=env)
    assert "déjà présentes" in again.stdout
    reference = run_flask("seed", "reference", env=env)
    assert reference.returncode == 0 and "Référentiel chargé" in reference.stdout


def test_every_menu_page_of_every_demo_role_opens(db, client, auth):
    """The walk a newcomer makes: each demo login, each entry of its menu."""
    import re

    load_demo(db)
    db.commit()
    for label, email, _number in DEMO_LOGINS:
        auth.login(email, DEMO_PASSWORD)
        home = client.get("/").get_data(as_text=True)
        nav = home.split('aria-label="Menu principal"', 1)[1].split("</nav>", 1)[0]
        links = re.findall(r'<a href="([^"]+)"', nav)
        assert "/aide/" in links, label
        for link in links:
            response = client.get(link)
            assert response.status_code == 200, (label, link)
            assert "<h1>" in response.get_data(as_text=True), (label, link)
        auth.logout()


def _text(db, file_id: int) -> str:
    data = b"".join(get_storage().iter_chunks(db, file_id))
    reader = PdfReader(io.BytesIO(data))
    return " ".join(page.extract_text() for page in reader.pages)


def _label(db, scheme_level_id: int) -> str:
    level = db.get(SchemeLevel, scheme_level_id)
    return f"{db.get(Scheme, level.scheme_id).code}-{level.level}"


def test_demo_accreditation_requests_in_every_phase_follow_the_flow(app, db):
    """Each phase has a request a newcomer can open, with real documents on every tab, a
    history, the comment or reason of its phase and the task of whoever acts next; none
    asks for a dispositif its entity holds or already requests."""
    with app.app_context():  # as `flask seed demo`: the decision letters are the app's own
        load_demo(db)
        db.commit()
        requests = db.exec(select(AccreditationRequest).order_by(AccreditationRequest.id)).all()
        by_phase = Counter(r.phase for r in requests)
        assert set(by_phase) == set(RequestPhase) - {RequestPhase.ABANDONED}

        for request in requests:
            events = flow.history(db, request.id)
            assert events[0][0].to_state == RequestPhase.DRAFT
            assert events[-1][0].to_state == request.phase, request.id
            assert [e.at for e, _p in events] == sorted(e.at for e, _p in events)
            documents = flow.documents_of(db, request.id)
            assert documents, request.id
            organization = db.get(Organization, request.organization_id)
            for _document, stored in documents:
                assert organization.name in _text(db, stored.id)
            if request.phase in OPEN_REQUEST_PHASES:
                problem = flow.check_scheme_level(
                    db, request.organization_id, request.scheme_level_id, request
                )
                assert problem is None, (_label(db, request.scheme_level_id), problem)
                if request.phase == RequestPhase.DRAFT:
                    assert flow.missing(db, request), "le brouillon dit ce qui manque"
                else:
                    assert flow.missing(db, request) == [], request.id
        open_levels = [
            (r.organization_id, r.scheme_level_id)
            for r in requests
            if r.phase in OPEN_REQUEST_PHASES
        ]
        assert len(open_levels) == len(set(open_levels))

        returned = next(r for r in requests if r.phase == RequestPhase.RETURNED)
        assert returned.return_comment and returned.returned_from == RequestPhase.PHASE_1
        refused = next(r for r in requests if r.phase == RequestPhase.UNFAVOURABLE)
        assert refused.decision_comment and refused.decided_at

        # favourable: the accreditation it gave, linked, with its decision letter
        for request in (r for r in requests if r.phase == RequestPhase.FAVOURABLE):
            accreditation = db.exec(
                select(Accreditation).where(Accreditation.request_id == request.id)
            ).one()
            assert accreditation.scheme_level_id == request.scheme_level_id
            assert accreditation.start_date == flow.to_paris(request.decided_at).date()
            letter = _text(db, accreditation.decision_letter_file_id)
            assert accreditation.number in letter

        # a CATEC request with a fixed platform and equipment, for the caisse to instruct
        catec = next(
            r
            for r in requests
            if _label(db, r.scheme_level_id).startswith("CATEC")
            and r.phase == RequestPhase.FILE_COMPLETE
        )
        assert flow.platforms_of_request(db, catec.id) and flow.equipment_of_request(db, catec.id)
        assert {d.kind for d, _f in flow.documents_of(db, catec.id)} >= {
            "engagement",
            "materiel",
            "recap_materiel",
            "dossier_technique",
        }

        # the next actor's task: the caisse's instructor, the entity, the administrator
        tasks = db.exec(
            select(Person.forprev_number, AccreditationRequest.phase)
            .join(Notification, Notification.person_id == Person.id)
            .join(AccreditationRequest, AccreditationRequest.id == Notification.object_id)
            .where(
                Notification.object_type == "accreditation_request",
                Notification.done_at.is_(None),
            )
        ).all()
        assert set(tasks) == {
            ("CAM00001", RequestPhase.FILE_COMPLETE),
            ("ROM37899", RequestPhase.RETURNED),
            ("INR00001", RequestPhase.CNH),
        }


def test_demo_accreditations_to_renew_suspended_and_with_platforms(db):
    load_demo(db)
    db.commit()
    marose = db.exec(select(Organization).where(Organization.postal_code == "67000")).one()
    accreditations = db.exec(
        select(Accreditation).where(Accreditation.organization_id == marose.id)
    ).all()
    # "Renouveler" shows on one of the training organisation's accreditations
    assert any(flow.renewal_problem(db, a) is None for a in accreditations)
    suspended = db.exec(
        select(Suspension.accreditation_id).where(
            Suspension.start_date <= today(), Suspension.end_date >= today()
        )
    ).all()
    assert len(suspended) == 1
    catec = next(a for a in accreditations if _label(db, a.scheme_level_id) == "CATEC-1")
    platforms = db.exec(select(Platform).where(Platform.accreditation_id == catec.id)).all()
    assert len(platforms) == 2 and all(p.cnh_approved_on for p in platforms)
    # REFERENCE §3: one number per entity, dispositif-level and sequence
    keys = db.exec(
        select(Accreditation.organization_id, Accreditation.scheme_level_id, Accreditation.sequence)
    ).all()
    assert len(keys) == len(set(keys))


def test_the_administrators_catalogue_survives_a_new_start(db):
    """bin/run loads the reference at every start: a renamed certificate model and an
    emptied qualification list stay as the administrator left them."""
    from app.models import CertificateModel, LevelQualification

    model = db.exec(
        select(CertificateModel).where(CertificateModel.name == "Certificat de formateur ALM")
    ).one()
    qualifying = db.exec(
        select(LevelQualification).where(LevelQualification.certificate_model_id == model.id)
    ).one()
    kept = (qualifying.scheme_level_id, qualifying.certificate_model_id)
    model.name = "Certificat de formateur ALM (2024)"
    db.add(model)
    db.delete(qualifying)
    db.commit()
    try:
        load_reference(db)
        db.commit()
        names = db.exec(
            select(CertificateModel.name).where(
                CertificateModel.scheme_level_id == model.scheme_level_id
            )
        ).all()
        assert "Certificat de formateur ALM" not in names
        assert "Certificat de formateur ALM (2024)" in names
        assert (
            db.exec(
                select(LevelQualification).where(LevelQualification.scheme_level_id == kept[0])
            ).all()
            == []
        )
    finally:
        model.name = "Certificat de formateur ALM"
        db.add(model)
        db.add(LevelQualification(scheme_level_id=kept[0], certificate_model_id=kept[1]))
        db.commit()
