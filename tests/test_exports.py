"""CSV exports read back as a French spreadsheet would: UTF-8 with a BOM, `;`, dates
dd/mm/yyyy; the entity's activity for its gestionnaire, a closed session's certified
trainees for the "Passeport de prévention"; another entity's export is not found."""

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import event

from app.clock import today
from app.domain import exports
from app.models import Certificate
from app.models.people import Role
from jobs.certificates import generate_certificates
from tests import factories


class World:
    pass


@pytest.fixture
def world(app, db):
    w = World()
    w.org = factories.organization(db, name="MAROSE FORMATION")
    w.other = factories.organization(db, name="AUTRE ENTITÉ")
    w.sst = factories.accreditation(db, w.org, scheme_code="SST", level=1)
    w.manager = factories.person(db, email="gestionnaire@marose.fr")
    w.grant = factories.grant(db, w.manager, Role.GESTIONNAIRE, organization=w.org)
    w.other_manager = factories.person(db, email="gestionnaire@autre.fr")
    w.other_grant = factories.grant(db, w.other_manager, Role.GESTIONNAIRE, organization=w.other)
    w.trainer = factories.person(db, first_name="Steve", last_name="FORMATEUR")
    w.session = factories.closed_session(
        db,
        org=w.org,
        acc=w.sst,
        trainer=w.trainer,
        creator=w.manager,
        trainees=[
            ("DURAND", "Élodie", date(1990, 3, 4), True),
            ("=CMD()", "Paul", date(1985, 12, 31), True),
            ("MARTIN", "Luc", date(1970, 1, 2), False),
        ],
        emails=["elodie@exemple.fr", None, "luc@exemple.fr"],
        end=today() - timedelta(days=2),
    )
    db.commit()
    with app.app_context():
        generate_certificates(w.session.id)
    return w


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()), "sans BOM, un tableur français casse les accents"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_passport_csv_lists_the_certified_trainees(client, db, login_as, world):
    login_as(world.manager, world.grant)
    rows = read_csv(client.get(f"/sessions/{world.session.id}/passeport-prevention.csv"))
    assert rows[0] == exports.PASSPORT_HEADER
    assert [r[:4] for r in rows[1:]] == [
        ["DURAND", "Élodie", "04/03/1990", "elodie@exemple.fr"],
        ["'=CMD()", "Paul", "31/12/1985", ""],  # a formula is written as text
    ]
    certificates = {
        c.number: c
        for c in db.exec(
            Certificate.__table__.select().where(Certificate.cert_session_id == world.session.id)
        )
    }
    first = dict(zip(exports.PASSPORT_HEADER, rows[1], strict=True))
    certificate = certificates[first["Numéro de certificat"]]
    assert first["Date de début de validité"] == certificate.session_end_date.strftime("%d/%m/%Y")
    assert first["Date de fin de validité"] == certificate.valid_until.strftime("%d/%m/%Y")
    assert first["Organisme"] == "MAROSE FORMATION"
    assert first["Numéro d'habilitation"] == world.sst.number
    assert first["Dispositif"] == "SST" and first["Niveau"] == "1"
    assert first["Formation"] == "Initiale"
    assert first["Adresse de vérification"].endswith(f"/verifier/{certificate.verification_code}")
    assert "MARTIN" not in {r[0] for r in rows}  # not certified


def test_the_telechargements_tab_links_to_the_passport_csv(client, login_as, world):
    login_as(world.manager, world.grant)
    page = client.get(f"/sessions/{world.session.id}/telechargements").get_data(as_text=True)
    assert f"/sessions/{world.session.id}/passeport-prevention.csv" in page


def test_another_entity_gets_no_export(client, login_as, world):
    login_as(world.other_manager, world.other_grant)
    assert client.get(f"/sessions/{world.session.id}/passeport-prevention.csv").status_code == 404
    assert client.get(f"/entites/{world.org.id}/activite.csv").status_code == 404
    assert client.get(f"/entites/{world.org.id}/activite-par-dispositif.csv").status_code == 404
    assert client.get(f"/entites/{world.other.id}/activite.csv").status_code == 200


def test_no_passport_csv_before_closing_nor_after_the_download_window(client, db, login_as, world):
    login_as(world.manager, world.grant)
    draft = factories.closed_session(
        db, org=world.org, acc=world.sst, trainer=world.trainer, creator=world.manager, trainees=[]
    )
    draft.state = "saisie"
    db.add(draft)
    world.session.purge_after = today()
    db.add(world.session)
    db.commit()
    assert client.get(f"/sessions/{draft.id}/passeport-prevention.csv").status_code == 404
    assert client.get(f"/sessions/{world.session.id}/passeport-prevention.csv").status_code == 410


def test_activity_csv_per_session_and_per_scheme(client, db, login_as, world):
    draft = factories.closed_session(
        db,
        org=world.org,
        acc=world.sst,
        trainer=world.trainer,
        creator=world.manager,
        trainees=[("PETIT", "Jean", date(2000, 1, 1), None)],
        end=today() + timedelta(days=10),
    )
    draft.state, draft.closed_at, draft.success_count = "saisie", None, None
    db.add(draft)
    db.commit()
    login_as(world.manager, world.grant)
    sessions_page = client.get("/sessions/").get_data(as_text=True)
    assert f"/entites/{world.org.id}/activite.csv" in sessions_page

    rows = read_csv(client.get(f"/entites/{world.org.id}/activite.csv"))
    assert rows[0] == exports.ACTIVITY_HEADER
    lines = [dict(zip(exports.ACTIVITY_HEADER, r, strict=True)) for r in rows[1:]]
    assert [line["Numéro de session"] for line in lines] == [str(draft.id), str(world.session.id)]
    closed = lines[1]
    assert closed["Date de fin"] == (today() - timedelta(days=2)).strftime("%d/%m/%Y")
    assert closed["État"] == "Clôturée (certificats générés)"
    assert (closed["Stagiaires"], closed["Certifiés"]) == ("3", "2")
    assert closed["Dispositif"] == "SST" and closed["Formation"] == "Initiale"
    assert (lines[0]["Stagiaires"], lines[0]["Certifiés"]) == ("1", "")

    rows = read_csv(client.get(f"/entites/{world.org.id}/activite-par-dispositif.csv"))
    assert rows[0] == exports.BY_SCHEME_HEADER
    assert rows[1:] == [["SST", "1", "2", "1", "0", "0", "1", "2"]]


def test_the_delegataire_exports_no_activity(client, db, login_as, world):
    delegate = factories.person(db, email="delegataire@marose.fr")
    grant = factories.grant(db, delegate, Role.DELEGATAIRE, organization=world.org)
    db.commit()
    login_as(delegate, grant)
    assert client.get(f"/entites/{world.org.id}/activite.csv").status_code == 403


def test_an_export_reads_its_rows_in_one_query(app, client, db, login_as, world):
    for n in range(30):
        factories.closed_session(
            db,
            org=world.org,
            acc=world.sst,
            trainer=world.trainer,
            creator=world.manager,
            trainees=[(f"NOM{n}", "Prénom", date(1990, 1, 1), True)],
        )
    db.commit()
    login_as(world.manager, world.grant)
    engine = app.extensions["forprev_engine"]
    seen = []

    def count(_conn, _cursor, statement, *_args):
        if "certsession" in statement.lower():
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = read_csv(client.get(f"/entites/{world.org.id}/activite.csv"))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(rows) == 1 + 31
    assert len(seen) == 1, seen  # one query for every row, not one per row
