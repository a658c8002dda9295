"""Qualifications recorded by hand (issue 14): INRS records a trainer's qualification
obtained outside Forprev's sessions, with its model, dates and an optional PDF. It counts
in the trainer check (a CATEC level-2 session needs INRS's "formateur de formateurs"
qualification), shows in "Mes certificats", and a wrong one is withdrawn, audited."""

import html as html_lib
import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfWriter
from sqlalchemy import func
from sqlmodel import select

from app.clock import today
from app.domain import qualifications as rules
from app.domain.trainer_check import LABELS, check_trainer
from app.models import (
    AuditEvent,
    CertificateModel,
    Person,
    Qualification,
    StoredFile,
)
from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token

CATEC_FF = "Certificat de formateur de formateurs CATEC"


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PDF = _pdf()


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _error(response, field_id: str) -> str | None:
    match = re.search(
        rf'<p class="error" id="{field_id}-erreur" role="alert">([^<]+)</p>', _text(response)
    )
    return match.group(1) if match else None


def _model(db, name: str) -> CertificateModel:
    return db.exec(select(CertificateModel).where(CertificateModel.name == name)).one()


@pytest.fixture
def people(db):
    admin = factories.person(db, first_name="Inès", last_name="ROCHE", email="ines@inrs.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    trainer = factories.person(db, first_name="Paul", last_name="VIDAL", email="paul@ex.fr")
    factories.grant(db, trainer, Role.FORMATEUR)
    instructor = factories.person(db, first_name="Luc", last_name="BRUN", email="luc@carsat.fr")
    factories.grant(db, instructor, Role.INSTRUCTEUR, fund_=factories.fund(db))
    db.commit()
    return {"admin": admin, "trainer": trainer, "instructor": instructor}


def _url(person_id: int, tail: str = "nouvelle") -> str:
    return f"/personnes/{person_id}/qualifications/{tail}"


def _record(client, person_id: int, *, document=None, **fields):
    url = _url(person_id)
    data = {
        "certificate_model_id": fields.pop("certificate_model_id"),
        "valid_from": "01/03/2025",
        "valid_until": "",
        "note": "Session INRS de mars",
        "csrf_token": csrf_token(client, url),
        **fields,
    }
    if document is not None:
        data["document"] = document
    return client.post(url, data=data, content_type="multipart/form-data")


def _written(db) -> tuple[int, int, int]:
    db.expire_all()
    return (
        db.exec(select(func.count(Qualification.id))).one(),
        db.exec(select(func.count(StoredFile.id))).one(),
        db.exec(select(func.count(AuditEvent.id))).one(),
    )


def _catec2_check(db, trainer: Person, end: date):
    return check_trainer(
        db,
        scheme_level_id=factories.scheme_level(db, "CATEC", 2).id,
        end_date=end,
        forprev_number=trainer.forprev_number,
    )


def test_a_recorded_catec_qualification_lets_the_trainer_run_a_catec_2_session(
    client, login_as, db, people
):
    trainer = people["trainer"]
    end = today() + timedelta(days=30)
    before = _catec2_check(db, trainer, end)
    assert not before.ok
    assert before.lines[2].label == LABELS[2] and not before.lines[2].ok
    assert CATEC_FF in before.lines[2].message

    login_as(people["admin"])
    form = _text(client.get(_url(trainer.id)))
    # INRS's model, never issued in a session, is offered, under its dispositif and level
    assert re.search(r'<optgroup label="CATEC — niveau 2">.*?' + CATEC_FF, form, re.S)
    model = _model(db, CATEC_FF)
    start = today() - timedelta(days=10)
    response = _record(
        client,
        trainer.id,
        certificate_model_id=str(model.id),
        valid_from=start.strftime("%d/%m/%Y"),
        document=(io.BytesIO(PDF), "attestation INRS.pdf"),
    )
    assert response.status_code == 302, _text(response)
    # the person's page ("Personnes"), or their qualifications' until it exists
    assert response.headers["Location"] in (
        f"/personnes/{trainer.id}",
        f"/personnes/{trainer.id}/qualifications",
    )

    db.expire_all()
    recorded = db.exec(select(Qualification).where(Qualification.person_id == trainer.id)).one()
    assert recorded.certificate_model_id == model.id
    assert recorded.valid_from == start
    # no end typed: the start plus the model's 36 months
    assert recorded.valid_until == date(start.year + 3, start.month, start.day)
    assert (recorded.source, recorded.recorded_by_id) == ("manuel", people["admin"].id)
    assert recorded.note == "Session INRS de mars"
    stored = db.get(StoredFile, recorded.file_id)
    assert stored.name == "attestation_INRS.pdf" and stored.content_type == "application/pdf"
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "qualification.recorded")).one()
    assert (event.actor_id, event.object_type, event.object_id) == (
        people["admin"].id,
        "person",
        trainer.id,
    )
    assert event.data["certificate_model"] == CATEC_FF
    assert event.data["valid_from"] == start.isoformat()

    after = _catec2_check(db, trainer, end)
    assert after.ok, after.failure
    assert CATEC_FF in after.lines[2].message

    # the PDF comes back whole to the administrator
    listing = _text(client.get(_url(trainer.id, "")[:-1]))
    assert CATEC_FF in listing and "Session INRS de mars" in listing
    download = client.get(_url(trainer.id, f"{recorded.id}/fichier"))
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"] == 'attachment; filename="attestation_INRS.pdf"'


def test_an_expired_qualification_fails_on_the_date_line(db, people):
    trainer = people["trainer"]
    model = _model(db, CATEC_FF)
    rules.record_qualification(
        db,
        actor_id=people["admin"].id,
        person=trainer,
        values=rules.QualificationInput(
            certificate_model_id=model.id,
            valid_from=date(2020, 1, 1),
            valid_until=today() - timedelta(days=1),
        ),
    )
    db.commit()
    check = _catec2_check(db, trainer, today() + timedelta(days=5))
    assert [line.ok for line in check.lines] == [True, True, True, False]
    assert check.lines[3].label == LABELS[3]
    assert "a pris fin le" in check.lines[3].message and CATEC_FF in check.lines[3].message


def test_the_form_suggests_the_end_from_the_models_validity(client, login_as, db, people):
    login_as(people["admin"])
    model = _model(db, "Certificat de formateur SST")  # 36 months
    url = _url(people["trainer"].id, "nouvelle/verifier")
    response = client.post(
        url,
        data={
            "certificate_model_id": str(model.id),
            "valid_from": "15/01/2024",
            "valid_until": "",
            "csrf_token": csrf_token(client, _url(people["trainer"].id)),
        },
    )
    page = _text(response)
    assert response.status_code == 200
    assert "Laissée vide : le 15/01/2027 (le début plus 36 mois de validité)." in page
    # the inline check saved nothing and judged no empty field
    assert 'class="error"' not in page
    assert _written(db)[0] == 0

    late = client.post(
        url,
        data={
            "certificate_model_id": str(model.id),
            "valid_from": "15/01/2024",
            "valid_until": "15/01/2023",
            "csrf_token": csrf_token(client, _url(people["trainer"].id)),
        },
    )
    assert late.status_code == 422
    assert _error(late, "valid_until") == rules.END_BEFORE_START


BAD_INPUT = [
    ("valid_until", {"valid_until": "28/02/2025"}, rules.END_BEFORE_START),
    ("valid_until", {"valid_until": "01/03/2025"}, rules.END_BEFORE_START),
    ("certificate_model_id", {"certificate_model_id": "999999"}, rules.MODEL_UNKNOWN),
    ("certificate_model_id", {"certificate_model_id": "abc"}, rules.MODEL_UNKNOWN),
    ("certificate_model_id", {"certificate_model_id": ""}, rules.MODEL_REQUIRED),
    ("valid_from", {"valid_from": ""}, rules.START_REQUIRED),
    (
        "valid_from",
        {"valid_from": "31/02/2025"},
        "Saisissez une date valide, par exemple 14/07/1990.",
    ),
    ("note", {"note": "x" * 501}, "La note ne doit pas dépasser 500 caractères."),
    (
        "document",
        {"document": (io.BytesIO(b"GIF89a pas un pdf"), "certificat.pdf")},
        "Ce fichier n'est pas un PDF lisible. Enregistrez votre document au format PDF.",
    ),
]


@pytest.mark.parametrize(("field", "changes", "message"), BAD_INPUT)
def test_bad_input_is_refused_next_to_its_field(
    client, login_as, db, people, field, changes, message
):
    login_as(people["admin"])
    model = _model(db, CATEC_FF)
    before = _written(db)
    fields = {"certificate_model_id": str(model.id), **changes}
    document = fields.pop("document", (io.BytesIO(PDF), "bon.pdf"))
    response = _record(client, people["trainer"].id, document=document, **fields)
    assert response.status_code == 422
    assert _error(response, field) == message
    assert _written(db) == before
    # the other input is kept
    page = _text(response)
    if field != "note":
        assert "Session INRS de mars" in page


def test_the_same_qualification_twice_is_refused(client, login_as, db, people):
    login_as(people["admin"])
    model = _model(db, CATEC_FF)
    first = _record(client, people["trainer"].id, certificate_model_id=str(model.id))
    assert first.status_code == 302
    before = _written(db)
    again = _record(client, people["trainer"].id, certificate_model_id=str(model.id))
    assert again.status_code == 422
    assert _error(again, "valid_from") == rules.DUPLICATE.format(start=date(2025, 3, 1))
    assert _written(db) == before
    # another start date is another qualification
    other = _record(
        client, people["trainer"].id, certificate_model_id=str(model.id), valid_from="01/03/2022"
    )
    assert other.status_code == 302
    assert _written(db)[0] == before[0] + 1


def test_an_unknown_or_merged_person_is_not_found(client, login_as, db, people):
    kept = people["trainer"]
    merged = factories.person(db, first_name="Paul", last_name="VIDAL", merged_into_id=kept.id)
    db.commit()
    login_as(people["admin"])
    model = _model(db, CATEC_FF)
    for person_id in (merged.id, 999999):
        assert client.get(_url(person_id)).status_code == 404
        response = _record(client, person_id, certificate_model_id=str(model.id))
        assert response.status_code == 404
    assert _written(db)[0] == 0


def _one(app, db, people) -> Qualification:
    """A CATEC qualification of the trainer, valid today, with its PDF."""
    values = rules.QualificationInput(
        certificate_model_id=_model(db, CATEC_FF).id,
        valid_from=today() - timedelta(days=40),
        valid_until=today() + timedelta(days=400),
    )
    from app.domain.uploads import KINDS

    with app.app_context():  # the file goes to the configured storage
        qualification = rules.record_qualification(
            db,
            actor_id=people["admin"].id,
            person=people["trainer"],
            values=values,
            document=("inrs.pdf", PDF, KINDS["pdf"]),
        )
    db.commit()
    return qualification


def test_other_roles_are_refused(app, client, login_as, db, people):
    qualification = _one(app, db, people)
    trainer_id = people["trainer"].id
    model = _model(db, CATEC_FF)
    for who in ("instructor", "trainer"):
        login_as(people[who])
        token = csrf_token(client, "/")
        assert client.get(_url(trainer_id)).status_code == 403
        assert client.get(_url(trainer_id, "")[:-1]).status_code == 403
        posted = client.post(
            _url(trainer_id),
            data={
                "certificate_model_id": str(model.id),
                "valid_from": "01/01/2020",
                "csrf_token": token,
            },
        )
        assert posted.status_code == 403
        assert client.get(_url(trainer_id, f"{qualification.id}/fichier")).status_code == 403
        withdrawn = client.post(
            _url(trainer_id, f"{qualification.id}/retirer"), data={"csrf_token": token}
        )
        assert withdrawn.status_code == 403
        client.post("/deconnexion", data={"csrf_token": token})
    assert _written(db)[0] == 1


def test_withdrawing_deletes_the_row_and_keeps_the_audit(app, client, login_as, db, people):
    qualification = _one(app, db, people)
    file_id, valid_until = qualification.file_id, qualification.valid_until
    qualification_id = qualification.id
    trainer = people["trainer"]
    assert _catec2_check(db, trainer, today()).ok
    login_as(people["admin"])
    listing = _url(trainer.id, "")[:-1]
    response = client.post(
        _url(trainer.id, f"{qualification_id}/retirer"),
        data={"csrf_token": csrf_token(client, listing)},
    )
    assert response.status_code == 302
    assert "La qualification du" in _text(client.get(listing))
    db.expire_all()
    assert db.get(Qualification, qualification_id) is None
    assert db.get(StoredFile, file_id) is None
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "qualification.withdrawn")).one()
    assert event.object_id == trainer.id and event.actor_id == people["admin"].id
    assert event.data["qualification_id"] == qualification_id
    assert event.data["certificate_model"] == CATEC_FF
    assert event.data["valid_until"] == valid_until.isoformat()
    assert not _catec2_check(db, trainer, today()).ok
    # gone: a second withdrawal and the download find nothing
    token = csrf_token(client, listing)
    again = client.post(_url(trainer.id, f"{qualification_id}/retirer"), data={"csrf_token": token})
    assert again.status_code == 404
    assert client.get(_url(trainer.id, f"{qualification_id}/fichier")).status_code == 404


def test_another_persons_qualification_is_not_reached_through_this_person(
    app, client, login_as, db, people
):
    qualification = _one(app, db, people)
    other = people["instructor"].id
    login_as(people["admin"])
    token = csrf_token(client, "/")
    assert client.get(_url(other, f"{qualification.id}/fichier")).status_code == 404
    response = client.post(_url(other, f"{qualification.id}/retirer"), data={"csrf_token": token})
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Qualification, qualification.id) is not None


def test_my_certificates_shows_the_qualification_with_or_without_a_file(
    app, client, login_as, db, people
):
    with_file = _one(app, db, people)
    without = rules.record_qualification(
        db,
        actor_id=people["admin"].id,
        person=people["trainer"],
        values=rules.QualificationInput(
            certificate_model_id=_model(db, "Certificat de formateur de formateurs ALM").id,
            valid_from=today() - timedelta(days=3),
            valid_until=today() + timedelta(days=300),
        ),
    )
    expired = rules.record_qualification(
        db,
        actor_id=people["admin"].id,
        person=people["trainer"],
        values=rules.QualificationInput(
            certificate_model_id=_model(db, "Certificat de formateur de formateurs échafaudage").id,
            valid_from=date(2019, 1, 1),
            valid_until=today() - timedelta(days=1),
        ),
    )
    db.commit()
    login_as(people["trainer"])
    page = _text(client.get("/mes-certificats"))
    assert CATEC_FF in page and "Certificat de formateur de formateurs ALM" in page
    assert "échafaudage" not in page  # no longer valid
    recorded_on = without.created_at
    from app.clock import to_paris

    assert (
        f"Qualification enregistrée par l'INRS le {to_paris(recorded_on):%d/%m/%Y}, sans "
        "document : elle compte pour la vérification des formateurs." in page
    )
    # the dashboard's "certificats de formateur" count them too, expired ones aside
    board = _text(client.get("/"))
    assert CATEC_FF in board and "Certificat de formateur de formateurs ALM" in board
    assert "échafaudage" not in board
    link = f"/mes-certificats/qualifications/{with_file.id}.pdf"
    assert link in page
    download = client.get(link)
    assert download.status_code == 200 and download.data == PDF
    assert client.get(f"/mes-certificats/qualifications/{without.id}.pdf").status_code == 404
    assert client.get(f"/mes-certificats/qualifications/{expired.id}.pdf").status_code == 404

    # another trainer cannot download it
    client.post("/deconnexion", data={"csrf_token": csrf_token(client, "/")})
    stranger = factories.person(db, email="autre@ex.fr")
    factories.grant(db, stranger, Role.FORMATEUR)
    db.commit()
    login_as(stranger)
    assert client.get(link).status_code == 404
    assert CATEC_FF not in _text(client.get("/mes-certificats"))
