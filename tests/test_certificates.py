"""Certificates (SPEC §7 "After generation"): the PDFs and their content, the bundle,
idempotence and resume after a killed worker, the QR code, the 15-day edge, the purge,
public verification, trainers' certificates."""

import io
import zipfile
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from rq import SimpleWorker
from sqlmodel import SQLModel, select

from app.clock import frozen, today, utcnow
from app.domain.certificate_pdf import PdfError, link_callback
from app.domain.purge import purge_due
from app.domain.storage import get_storage
from app.models import (
    Bundle,
    Certificate,
    CertSession,
    Notification,
    OutboxEmail,
    Person,
    RoleGrant,
    StatCounter,
    StoredFile,
    Trainee,
)
from app.models.people import Role
from app.queue import get_queue
from jobs.certificates import generate_certificates
from tests import factories
from tests.conftest import ROOT, csrf_token

TRAINEES = [
    ("DURAND", "Paul", date(1990, 3, 12), True),
    ("MOREAU", "Léa", date(1991, 2, 28), False),
    ("PETIT", "Hugo", date(1985, 1, 1), True),
]


@pytest.fixture
def setting(db):
    return make_setting(db)


def make_setting(db):
    """An entity with an SST 1 accreditation, its gestionnaire Karine and a trainer."""
    s = type("Setting", (), {})()
    s.org = factories.organization(db, name="MAROSE FORMATION")
    s.acc = factories.accreditation(db, s.org, scheme_code="SST", level=1)
    s.manager = factories.person(db, first_name="Karine", email="karine@exemple.fr")
    factories.grant(db, s.manager, Role.GESTIONNAIRE, organization=s.org)
    s.trainer = factories.person(
        db, first_name="Stéphanie", last_name="WEBER", email="t@exemple.fr"
    )
    factories.grant(db, s.trainer, Role.FORMATEUR)
    db.commit()
    return s


def _closed(db, s, trainees=TRAINEES, **kwargs):
    cs = factories.closed_session(
        db, org=s.org, acc=s.acc, trainer=s.trainer, creator=s.manager, trainees=trainees, **kwargs
    )
    db.commit()
    return cs


def _generate(app, cs_id):
    with app.app_context():
        return generate_certificates(cs_id)


def _bundle(db, cs_id) -> Bundle:
    db.expire_all()
    return db.exec(select(Bundle).where(Bundle.cert_session_id == cs_id)).one()


def test_one_pdf_per_success_with_every_field(app, db, setting):
    cs = _closed(db, setting)
    assert _generate(app, cs.id) == {"status": "pret", "total": 2}
    bundle = _bundle(db, cs.id)
    assert (bundle.status, bundle.done, bundle.total) == ("pret", 2, 2)
    certificates = db.exec(select(Certificate).order_by(Certificate.id)).all()
    assert len(certificates) == 2
    year = today().year
    assert [c.number for c in certificates] == [f"{year}-000001", f"{year}-000002"]
    assert certificates[0].holder_initials == "P. D." and certificates[0].holder_birth_year == 1990
    assert certificates[0].valid_until == date(today().year + 2, today().month, today().day)
    storage = get_storage()
    pdf = PdfReader(io.BytesIO(storage.read(db, certificates[0].file_id)))
    text_ = " ".join(pdf.pages[0].extract_text().split())
    for expected in (
        "Certificat de sauveteur secouriste du travail",
        "Sauvetage secourisme du travail (SST) — niveau 1",
        "Paul DURAND",
        "né(e) le 12/03/1990",
        f"Fin de session {today():%d/%m/%Y}",
        f"Valable du {today():%d/%m/%Y} au {certificates[0].valid_until:%d/%m/%Y}",
        f"MAROSE FORMATION — habilitation {setting.acc.number}",
        "Formateur Stéphanie WEBER",
        f"Certificat n° {year}-000001",
        "Stage initial",
    ):
        assert expected in text_, expected
    assert "Léa" not in storage.read(db, bundle.zip_file_id).decode("latin-1")
    with zipfile.ZipFile(io.BytesIO(storage.read(db, bundle.zip_file_id))) as archive:
        assert archive.namelist() == [
            f"SST-{year}-000001_DURAND_Paul.pdf",
            f"SST-{year}-000002_PETIT_Hugo.pdf",
        ]
    printing = storage.read(db, bundle.pdf_file_id)
    assert len(PdfReader(io.BytesIO(printing)).pages) == 2
    import pypdfium2  # a second, independent reader: the joined file is a sound PDF

    document = pypdfium2.PdfDocument(printing)
    assert len(document) == 2
    assert "Paul DURAND" in document[0].get_textpage().get_text_range()
    assert "Hugo PETIT" in document[1].get_textpage().get_text_range()
    task = db.exec(select(Notification).where(Notification.object_type == "bundle")).one()
    assert (
        task.person_id == setting.manager.id and task.link == f"/sessions/{cs.id}/telechargements"
    )


def test_the_zip_names_each_file_after_its_holder_in_plain_letters(app, db, setting):
    cs = _closed(
        db,
        setting,
        trainees=[
            ("WOŹNIAK", "Łukasz", date(1990, 3, 12), True),
            ("d'Arc-Lefèvre", "Jean Éric", date(1991, 2, 28), True),
            ("YILMAZ", "Ayşe", date(1985, 1, 1), True),
            ("李", "华", date(1985, 1, 1), True),
        ],
    )
    _generate(app, cs.id)
    zipped = get_storage().read(db, _bundle(db, cs.id).zip_file_id)
    year = today().year
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist() == [
            f"SST-{year}-000001_WOZNIAK_Lukasz.pdf",
            f"SST-{year}-000002_D-ARC-LEFEVRE_Jean-Eric.pdf",
            f"SST-{year}-000003_YILMAZ_Ayse.pdf",
            f"SST-{year}-000004.pdf",  # nothing of the name is ASCII: the number alone
        ]
        assert all(not info.flag_bits & 0x800 for info in archive.infolist()), "ASCII names"


def test_the_qr_code_leads_to_the_verification_page(app, db, setting):
    import pypdfium2
    import zxingcpp

    cs = _closed(db, setting, trainees=TRAINEES[:1])
    _generate(app, cs.id)
    certificate = db.exec(select(Certificate)).one()
    page = pypdfium2.PdfDocument(get_storage().read(db, certificate.file_id))[0]
    image = page.render(scale=2).to_pil()
    shots = ROOT / ".screenshots"
    shots.mkdir(exist_ok=True)
    image.save(shots / "certificat-sst-1.png")
    (code,) = zxingcpp.read_barcodes(image)
    assert code.text == f"http://forprev.test/verifier/{certificate.verification_code}"


def test_generation_is_idempotent(app, db, setting):
    cs = _closed(db, setting)
    _generate(app, cs.id)
    files = db.exec(select(StoredFile.id).order_by(StoredFile.id)).all()
    bundle = _bundle(db, cs.id)
    bundle.status = "en_cours"  # as if asked again
    db.add(bundle)
    db.commit()
    _generate(app, cs.id)
    assert len(db.exec(select(Certificate)).all()) == 2
    assert db.exec(select(StoredFile.id).order_by(StoredFile.id)).all() == files


def test_a_failure_is_taken_up_again_then_shown_with_the_retry(
    app, db, setting, redis_url, monkeypatch
):
    """A job that raises asks for the next run itself; after MAX_RESUMES runs stopped at
    the same place the bundle is failed, said so in French, polled no more, and the
    retry button carries on from the certificates already drawn."""
    import jobs.certificates as job

    cs = _closed(db, setting)
    real = job.render_pdf
    drawn = []

    def broken_printer(view):
        drawn.append(view.number[-1])
        if view.number.endswith("2"):
            raise RuntimeError("panne d'imprimante")
        return real(view)

    monkeypatch.setattr(job, "render_pdf", broken_printer)
    with pytest.raises(RuntimeError):
        _generate(app, cs.id)
    bundle = _bundle(db, cs.id)
    assert (bundle.status, bundle.done, bundle.resumes) == ("en_cours", 1, 1)
    client = _login(app, "karine@exemple.fr")
    progress = client.get(f"/sessions/{cs.id}/progression")
    fragment = progress.get_data(as_text=True)
    assert progress.status_code == 200 and "data-hx-trigger" in fragment
    assert "elle a repris d'elle-même là où elle s'était arrêtée" in fragment

    queue = get_queue(redis_url)
    assert [j.args for j in queue.jobs] == [(cs.id,)], "the next run is asked for"
    with app.app_context():  # a real RQ worker, in this process to keep the broken printer
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    bundle = _bundle(db, cs.id)
    assert (bundle.status, bundle.done, bundle.resumes) == ("echec", 1, job.MAX_RESUMES)
    assert drawn == ["1", "2"] + ["2"] * job.MAX_RESUMES, "the first PDF is drawn once"
    assert queue.count == 0
    first = db.exec(select(Certificate).order_by(Certificate.id)).first()
    first_file = first.file_id
    assert first_file is not None

    page = client.get(f"/sessions/{cs.id}/telechargements").get_data(as_text=True)
    assert (
        "La génération des certificats a échoué à 1 / 2 certificats, malgré 3 reprises "
        "automatiques. Relancez-la : les certificats déjà prêts sont gardés." in page
    )
    assert "Relancer la génération" in page
    progress = client.get(f"/sessions/{cs.id}/progression")
    assert progress.status_code == 286, "htmx stops polling"
    assert "data-hx-trigger" not in progress.get_data(as_text=True)
    response = client.post(
        f"/sessions/{cs.id}/certificats/relancer",
        data={"csrf_token": csrf_token(client, f"/sessions/{cs.id}/telechargements")},
    )
    assert response.status_code == 302
    assert _bundle(db, cs.id).resumes == 0, "a retry asked for by a person starts over"
    monkeypatch.setattr(job, "render_pdf", real)
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert _bundle(db, cs.id).status == "pret"
    db.expire_all()
    assert db.get(Certificate, first.id).file_id == first_file


def test_link_callback_refuses_anything_but_our_static_files():
    assert link_callback("/static/img/logo-forprev.png").endswith("app/static/img/logo-forprev.png")
    for uri in (
        "https://example.com/logo.png",
        "/static/../config.py",
        "/etc/passwd",
        "file:///etc/passwd",
        "/static/img/absent.png",
    ):
        with pytest.raises(PdfError):
            link_callback(uri)


def _login(app, email):
    client = app.test_client()
    client.post(
        "/connexion",
        data={
            "identifier": email,
            "password": factories.PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    return client


def test_downloads_for_15_days_then_the_purge(app, db, setting):
    start = utcnow()
    with frozen(start):
        cs = _closed(db, setting)
        _generate(app, cs.id)
    with frozen(start + timedelta(days=14)):
        client = _login(app, "karine@exemple.fr")  # a login session lasts hours, not days
        page = client.get(f"/sessions/{cs.id}/telechargements").get_data(as_text=True)
        assert "Télécharger les certificats (2)" in page
        assert f"jusqu'au {today():%d/%m/%Y} inclus" in page
        zipped = client.get(f"/sessions/{cs.id}/certificats.zip")
        assert zipped.status_code == 200 and zipped.mimetype == "application/zip"
        assert len(zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()) == 2
        assert purge_due(db) == 0
    with frozen(start + timedelta(days=15)):
        client = _login(app, "karine@exemple.fr")
        assert client.get(f"/sessions/{cs.id}/certificats.zip").status_code == 410
        assert purge_due(db) == 1
        assert purge_due(db) == 0, "a second run the same day finds nothing"
        assert client.get(f"/sessions/{cs.id}/telechargements").status_code == 404
    counter = db.exec(
        select(StatCounter).where(StatCounter.organization_id == 0, StatCounter.month == 0)
    ).one()
    assert (counter.scheme_code, counter.level, counter.successes, counter.failures) == (
        "SST",
        1,
        2,
        1,
    )
    assert counter.department_code == "67"
    for table in SQLModel.metadata.sorted_tables:
        rows = db.exec(select(table)).all()
        dump = repr(rows)
        for name in ("DURAND", "MOREAU", "PETIT", "Hugo"):
            assert name not in dump, (table.name, name)
    assert db.exec(select(Trainee)).all() == []
    assert db.exec(select(StoredFile)).all() == []
    certificate = db.exec(select(Certificate)).first()
    public = app.test_client().get(f"/verifier/{certificate.verification_code}")
    text_ = public.get_data(as_text=True)
    assert public.status_code == 200
    assert (
        f"Certificat valide jusqu&#39;au {certificate.valid_until:%d/%m/%Y}" in text_
        or f"Certificat valide jusqu'au {certificate.valid_until:%d/%m/%Y}" in text_
    )
    assert "P. D., né(e) en 1990" in text_ and "DURAND" not in text_


def test_marking_downloaded_removes_the_task(app, db, setting):
    cs = _closed(db, setting)
    _generate(app, cs.id)
    client = _login(app, "karine@exemple.fr")
    token = csrf_token(client, f"/sessions/{cs.id}/telechargements")
    client.post(f"/sessions/{cs.id}/telecharges", data={"telecharges": "oui", "csrf_token": token})
    db.expire_all()
    assert db.get(CertSession, cs.id).downloaded_at is not None
    assert db.exec(select(Notification).where(Notification.object_type == "bundle")).one().done_at


def test_verification_of_unknown_or_expired_codes(app, db, setting):
    client = app.test_client()
    first = client.get("/verifier/" + "a" * 32)
    second = client.get("/verifier/" + "b" * 32)
    assert first.status_code == second.status_code == 404
    assert first.data == second.data
    assert "Aucun certificat ne correspond à ce code." in first.get_data(as_text=True)
    cs = _closed(db, setting, trainees=TRAINEES[:1])
    _generate(app, cs.id)
    certificate = db.exec(select(Certificate)).one()
    certificate.valid_until = today() - timedelta(days=1)
    db.add(certificate)
    db.commit()
    page = client.get(f"/verifier/{certificate.verification_code}").get_data(as_text=True)
    assert f"Ce certificat a expiré le {certificate.valid_until:%d/%m/%Y}" in page


def test_level_two_successes_become_trainers(app, db, setting):
    acc2 = factories.accreditation(db, setting.org, scheme_code="SST", level=2)
    known = factories.person(db, first_name="Julie", last_name="MARTIN", email="julie@exemple.fr")
    db.commit()
    cs = factories.closed_session(
        db,
        org=setting.org,
        acc=acc2,
        trainer=setting.trainer,
        creator=setting.manager,
        trainees=[
            ("MARTIN", "Julie", known.birth_date, True),
            ("NOUVEAU", "Jean", date(1988, 5, 5), True),
        ],
        emails=["JULIE@exemple.fr", "jean@exemple.fr"],
    )
    db.commit()
    _generate(app, cs.id)
    _generate(app, cs.id)
    db.expire_all()
    people = {p.email: p for p in db.exec(select(Person)).all()}
    assert len([p for p in people.values() if p.last_name in ("MARTIN", "NOUVEAU")]) == 2
    jean = people["jean@exemple.fr"]
    for holder in (known, jean):
        roles = db.exec(select(RoleGrant.role).where(RoleGrant.person_id == holder.id)).all()
        assert roles.count(Role.FORMATEUR) == 1
        assert db.exec(select(Certificate).where(Certificate.person_id == holder.id)).one()
    mails = db.exec(select(OutboxEmail).where(OutboxEmail.to_address == "jean@exemple.fr")).all()
    assert [m.subject for m in mails] == ["Forprev : votre compte a été créé"]

    # the trainer's certificate survives the purge, on their account
    with frozen(utcnow() + timedelta(days=15)):
        purge_due(db)
    client = _login(app, "julie@exemple.fr")
    page = client.get("/mes-certificats").get_data(as_text=True)
    assert "Certificat de formateur SST" in page
    certificate = db.exec(select(Certificate).where(Certificate.person_id == known.id)).one()
    pdf = client.get(f"/mes-certificats/{certificate.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    other = _login(app, "karine@exemple.fr")
    assert other.get(f"/mes-certificats/{certificate.id}.pdf").status_code in (403, 404)


def test_each_dispositif_and_level_finds_its_layout(app):
    from app.domain.certificate_pdf import certificate_html, layouts_for

    trainer_view = replace_view(
        scheme_code="SST", level=2, model_name="Certificat de formateur SST"
    )
    assert layouts_for(trainer_view) == [
        "certificates/pdf-sst-2.html",
        "certificates/pdf-sst.html",
        "certificates/pdf-formateur.html",
        "certificates/pdf.html",
    ]
    with app.test_request_context():
        html = certificate_html(trainer_view)
        assert "Ce certificat de formateur est délivré à" in html
        assert "animer des sessions de certification SST de niveau 1" in html
        catec = certificate_html(replace_view(scheme_code="CATEC", level=1))
        assert "espaces confinés" in catec and "Ce certificat est délivré à" in catec


def replace_view(**changes):
    from dataclasses import replace

    from app.domain.certificate_issue import CertificateView

    base = CertificateView(
        number="2026-000009",
        holder="Julie MARTIN",
        birth_date=date(1990, 7, 14),
        scheme_name="Dispositif",
        scheme_code="SST",
        level=1,
        model_name="Certificat",
        end_date=date(2026, 11, 24),
        valid_until=date(2029, 11, 24),
        organization="MAROSE",
        accreditation_number="H1",
        trainer="Stéphanie WEBER",
        is_refresher=False,
        verification_code="code",
    )
    return replace(base, **changes)
