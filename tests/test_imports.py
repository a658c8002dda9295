"""Import of the data that exists before the first day: each kind of CSV file, the essai
whose counts are the real run's, the idempotent second run, the refused lines (on screen
and as a CSV), every bad input of issue 14, the whole file rolled back on a failure, the
RQ job with its progress, a run whose job died, and `flask import` from the shell."""

import contextlib
import csv
import dataclasses
import io
import tempfile
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from rq import SimpleWorker
from sqlmodel import func, select

from app.clock import today, utcnow
from app.domain.importing import runner
from app.domain.importing.kinds import KINDS
from app.domain.storage import get_storage
from app.models import (
    Accreditation,
    ImportRun,
    Organization,
    Person,
    Qualification,
    RoleGrant,
    StoredFile,
)
from app.models.people import Role
from app.queue import get_queue
from tests.conftest import csrf_token, run_flask
from tests.factories import grant, person


def siret(prefix: str) -> str:
    """`prefix` (13 digits) with its Luhn key."""
    for key in "0123456789":
        number = prefix + key
        total = 0
        for position, char in enumerate(reversed(number)):
            digit = int(char) * (2 if position % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        if total % 10 == 0:
            return number
    raise AssertionError


SIRET_A, SIRET_B = siret("4420000000001"), siret("5510000000002")
ENTITES = (
    "code;raison_sociale;type;siret;nda;adresse;code_postal;ville\n"
    f"10001;FORMATION ALPHA;organisme_formation;{SIRET_A};42670000167;1 rue de la Paix;67000;Strasbourg\n"
    f'10002;"BETA; INDUSTRIE";entreprise;{SIRET_B};;2 avenue Foch;75011;Paris\n'
    "10003;GAMMA;entreprise;12345678901234;;3 rue Haute;67000;Strasbourg\n"
    f"10004;DELTA;ovni;{SIRET_B};;4 rue Basse;67000;Strasbourg\n"
    f"10005;EPSILON;entreprise;{SIRET_B};;5 rue;96000;Nulle part\n"
)
PERSONNES = (
    "numero_forprev;nom;prenom;date_naissance;email\n"
    "ABC12345;Dupont;Marie;14/07/1980;marie.dupont@exemple.fr\n"
    "ABD12345;Martin;Paul;31/02/1985;paul.martin@exemple.fr\n"
    "ABE12345;Durand;Zoé;01/01/1990;Marie.Dupont@exemple.fr\n"
    "ABF12345;Petit;Léa;02/03/1991;lea.petit@exemple.fr\n"
    "AB123;Faux;Numéro;02/03/1991;faux@exemple.fr\n"
)
CERTIFICATS = (
    "numero_forprev;dispositif;niveau;modele;date_debut;date_fin\n"
    f"ABC12345;SST;2;Certificat de formateur SST;{today() - timedelta(days=30):%d/%m/%Y};\n"
    "ABF12345;SST;1;;01/01/2023;01/01/2025\n"
    "ABF12345;XYZ;2;;01/01/2023;01/01/2025\n"
)
ROLES = (
    "numero_forprev;role;code_entite;code_caisse\n"
    "ABC12345;gestionnaire;10001;\n"
    "ABC12345;formateur;;ALSACE-MOSELLE\n"
    "ABF12345;instructeur;;CRAMIF\n"
    "ABF12345;formateur;;\n"
    "ABF12345;délégataire;99999;\n"
)
HABILITATIONS = (
    "numero;code_entite;dispositif;niveau;date_debut;date_fin\n"
    "H10001/2020/SST-1/O/00;10001;SST;1;01/03/2020;28/02/2025\n"
    "H10001/2025/SST-1/O/01;10001;SST;1;01/03/2025;28/02/2030\n"
    "H10001/2024/SST-1/O/02;10001;SST;1;01/01/2024;31/12/2028\n"
    "H10001/2020/XYZ-1/O/00;10001;XYZ;1;01/03/2020;28/02/2025\n"
    "H10001/2021/CATEC-1/O/00;10001;CATEC;1;01/03/2021;30/02/2026\n"
)


@pytest.fixture
def admin(db):
    admin = person(db, first_name="Inès", last_name="ROUSSEL", email="ines@exemple.fr")
    grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    return admin


def _run(app, db, kind: str, text: str | bytes, dry_run: bool = False) -> ImportRun:
    """A run through the one code path (as the job and the command do), in this process."""
    data = text if isinstance(text, bytes) else text.encode()
    with app.app_context():
        stored = runner.store_import_file(db, f"{kind}.csv", [data])
        run = runner.create_run(db, kind=kind, file_id=stored.id, dry_run=dry_run, actor_id=None)
        db.commit()
        try:
            return runner.run_import(db, run.id)
        finally:
            db.expire_all()


def _counts(run: ImportRun) -> tuple:
    return (run.status, run.created, run.updated, run.unchanged, run.refused)


def _report(app, db, run: ImportRun) -> list[list[str]]:
    with app.app_context():
        data = get_storage().read(db, run.report_file_id)
    assert data.startswith(b"\xef\xbb\xbf"), "a BOM: a spreadsheet reads the accents"
    text = data.decode("utf-8-sig")
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _reasons(app, db, run) -> dict[int, str]:
    return {int(row[-2]): row[-1] for row in _report(app, db, run)[1:]}


def _count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def _work(app, redis_url):
    queue = get_queue(redis_url)
    with app.app_context():  # a real RQ worker, in this process
        SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _upload(client, kind: str, data: bytes, mode: str = "essai", name: str = "fichier.csv"):
    return client.post(
        "/import/",
        data={
            "kind": kind,
            "mode": mode,
            "fichier": (io.BytesIO(data), name),
            "csrf_token": csrf_token(client, "/import/"),
        },
        content_type="multipart/form-data",
    )


# --- the essai, the real run, the second run --------------------------------------------


def test_an_essai_on_screen_then_the_real_run_with_the_same_counts_then_nothing_changes(
    app, db, client, login_as, admin, redis_url
):
    login_as(admin)
    response = _upload(client, "entites", ENTITES.encode())
    assert response.status_code == 303
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/import/{run_id}").get_data(as_text=True)
    assert "En attente d'un serveur de traitement" in page and "data-hx-trigger" in page

    _work(app, redis_url)
    dry = db.get(ImportRun, run_id)
    assert _counts(dry) == ("termine", 2, 0, 0, 3)
    assert _count(db, Organization) == 0, "an essai writes nothing"
    progress = client.get(f"/import/{run_id}/progression")
    assert progress.status_code == 286, "htmx stops polling"
    html = unescape(progress.get_data(as_text=True))
    assert "data-hx-trigger" not in html
    assert "Essai terminé" in html and "Lancer l'import réel" in html
    assert "SIRET invalide : 12345678901234" in html
    assert "type d'entité inconnu : ovni" in html
    assert "code postal refusé" in html

    refusals = client.get(f"/import/{run_id}/refus.csv")
    assert refusals.status_code == 200
    assert "attachment" in refusals.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(refusals.get_data().decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [*KINDS["entites"].columns, "ligne", "motif"]
    assert [row[:2] + row[-2:-1] for row in rows[1:]] == [
        ["10003", "GAMMA", "4"],
        ["10004", "DELTA", "5"],
        ["10005", "EPSILON", "6"],
    ]
    assert rows[1][-1].startswith("SIRET invalide : 12345678901234")

    response = client.post(
        f"/import/{run_id}/reel", data={"csrf_token": csrf_token(client, f"/import/{run_id}")}
    )
    assert response.status_code == 303
    real_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert real_id != run_id
    _work(app, redis_url)
    real = db.get(ImportRun, real_id)
    assert not real.dry_run and real.file_id == dry.file_id
    assert _counts(real)[1:] == _counts(dry)[1:], "the essai's counts are the real run's"
    alpha = db.exec(select(Organization).where(Organization.code == "10001")).one()
    beta = db.exec(select(Organization).where(Organization.code == "10002")).one()
    assert (alpha.name, alpha.kind, alpha.activity_number, alpha.status) == (
        "FORMATION ALPHA",
        "organisme_formation",
        "42670000167",
        "valide",
    )
    assert beta.name == "BETA; INDUSTRIE", "a quoted field keeps its separator"
    assert (alpha.department_code, beta.department_code) == ("67", "75")
    page = unescape(client.get(f"/import/{run_id}").get_data(as_text=True))
    assert f"import n° {real_id}" in page and "Lancer l'import réel" not in page

    again = _run(app, db, "entites", ENTITES)
    assert _counts(again) == ("termine", 0, 0, 2, 3), "the same file twice changes nothing"
    changed = ENTITES.replace("1 rue de la Paix", "10 rue de la Paix")
    assert _counts(_run(app, db, "entites", changed)) == ("termine", 0, 1, 1, 3)
    listing = client.get("/import/").get_data(as_text=True)
    assert f"Import n° {real_id}" in listing and "Essai" in listing


def test_every_kind_with_its_refusals_and_a_second_run_that_changes_nothing(app, db):
    runs = {}
    for kind, text in (
        ("entites", ENTITES),
        ("personnes", PERSONNES),
        ("certificats", CERTIFICATS),
        ("roles", ROLES),
        ("habilitations", HABILITATIONS),
    ):
        runs[kind] = _run(app, db, kind, text)
    assert _counts(runs["personnes"]) == ("termine", 2, 0, 0, 3)
    assert _reasons(app, db, runs["personnes"]) == {
        3: "date impossible : 31/02/1985",
        4: "personne en double : l'adresse marie.dupont@exemple.fr est celle de ABC12345",
        6: "numéro Forprev invalide : AB123 (3 lettres et 5 chiffres, par exemple JKA37899)",
    }
    marie = db.exec(select(Person).where(Person.forprev_number == "ABC12345")).one()
    assert (marie.last_name, marie.first_name, marie.email, marie.active) == (
        "DUPONT",
        "Marie",
        "marie.dupont@exemple.fr",
        False,
    ), "no password yet: 'Mot de passe oublié' sends the first one"

    assert _counts(runs["certificats"]) == ("termine", 1, 0, 0, 2)
    reasons = _reasons(app, db, runs["certificats"])
    assert reasons[3].startswith("certificat d'acteur (SST-1)")
    assert reasons[4] == "dispositif inconnu : XYZ"
    qualification = db.exec(select(Qualification)).one()
    assert qualification.source == "import"
    assert qualification.valid_until > today() + timedelta(days=365), "start + 36 months"

    assert _counts(runs["roles"]) == ("termine", 2, 1, 0, 2)
    reasons = _reasons(app, db, runs["roles"])
    assert reasons[5].startswith("ABF12345 n'a aucun certificat de formateur valide")
    assert reasons[6].startswith("entité inconnue : 99999")
    roles = {
        (g.role, g.organization_id is not None, g.fund_id is not None)
        for g in db.exec(select(RoleGrant)).all()
    }
    assert roles == {
        ("gestionnaire", True, False),
        ("formateur", False, False),  # given by the valid trainer's certificate
        ("instructeur", False, True),
    }
    db.refresh(marie)
    assert marie.trainer_fund_id is not None, "the formateur's caisse de rattachement"

    assert _counts(runs["habilitations"]) == ("termine", 2, 0, 0, 3)
    assert _reasons(app, db, runs["habilitations"]) == {
        4: "habilitation qui chevauche H10001/2020/SST-1/O/00 (du 01/03/2020 au 28/02/2025)",
        5: "dispositif inconnu : XYZ",
        6: "date impossible : 30/02/2026",
    }
    numbers = set(db.exec(select(Accreditation.number)).all())
    assert numbers == {"H10001/2020/SST-1/O/00", "H10001/2025/SST-1/O/01"}

    before = {model: _count(db, model) for model in (Organization, Person, RoleGrant)}
    for kind, text in (
        ("entites", ENTITES),
        ("personnes", PERSONNES),
        ("certificats", CERTIFICATS),
        ("roles", ROLES),
        ("habilitations", HABILITATIONS),
    ):
        again = _run(app, db, kind, text)
        first = runs[kind]
        assert _counts(again) == ("termine", 0, 0, first.created + first.updated, first.refused)
    assert {model: _count(db, model) for model in before} == before


# --- bad files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "Ce fichier est un PDF, pas un fichier CSV"),
        (bytes(range(256)) * 40, "Ce fichier n'est pas un fichier CSV"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Ce fichier est un classeur de tableur"),
        (
            "code;raison_sociale;type;nda;adresse;code_postal;ville\n1;é;x;;;;\n".encode(),
            "colonne manquante : siret",
        ),
        (
            "code;raison_sociale;type;siret;nda;adresse;ville\n".encode("cp1252"),
            "colonne manquante : code_postal",
        ),
        (
            "code;raison_sociale;type;siret;nda;adresse;code_postal;ville\n1;Société;;;;;;\n".encode(
                "cp1252"
            ),
            "Ce fichier n'est pas encodé en UTF-8",
        ),
        (b"", "Ce fichier est vide."),
        (b"\n\n", "Ce fichier est vide."),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_next_to_its_field(
    client, login_as, admin, db, data, message
):
    login_as(admin)
    response = _upload(client, "entites", data)
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    error = html.split('id="fichier-erreur"', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert 'aria-invalid="true"' in html.split('id="fichier-champ"', 1)[1].split("</div>", 1)[0]
    assert 'selected value="entites"' in html, "the other input is kept"
    assert _count(db, ImportRun) == 0 and _count(db, StoredFile) == 0


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(app, client, login_as, admin, db):
    login_as(admin)
    token = csrf_token(client, "/import/")

    class Huge(io.RawIOBase):
        """300 MB that are never made: it counts what is read of it."""

        size, position, read_bytes = 300 * 1024 * 1024, 0, 0

        def readable(self):
            return True

        def seekable(self):
            return True

        def tell(self):
            return self.position

        def seek(self, offset, whence=0):
            self.position = self.size + offset if whence == 2 else offset
            return self.position

        def readinto(self, buffer):
            count = min(len(buffer), self.size - self.position)
            buffer[:count] = b"x" * count
            self.position += count
            Huge.read_bytes += count
            return count

    response = client.post(
        "/import/",
        input_stream=Huge(),
        content_type="multipart/form-data; boundary=limite",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 413
    html = unescape(response.get_data(as_text=True))
    error = html.split('id="fichier-erreur"', 1)[1].split("</p>", 1)[0]
    assert "Le fichier dépasse la taille autorisée pour un import (200 Mo)" in error
    assert "Découpez-le en plusieurs fichiers CSV" in error and "flask import" in error
    assert "PDF" not in error
    assert Huge.read_bytes < 1024 * 1024, "the 300 MB were not read"
    assert _count(db, StoredFile) == 0


def test_a_line_with_a_nul_byte_is_refused_alone_and_bom_and_comma_are_read(app, db):
    text = (
        "\ufeffnumero_forprev,nom,prenom,date_naissance,email\r\n"
        'ABC12345,"Dupont, dit ""le Grand""",Marie,14/07/1980,marie@exemple.fr\r\n'
        "ABD12345,Mar\0tin,Paul,01/02/1985,paul@exemple.fr\r\n"
        "ABE12345,Durand,Zoé,1980-01-01,zoe@exemple.fr\r\n"
        "\r\n"
        "ABF12345,Petit,Léa,,lea@exemple.fr\r\n"
    ).encode()
    run = _run(app, db, "personnes", text)
    assert _counts(run) == ("termine", 2, 0, 0, 2)
    dupont = db.exec(select(Person).where(Person.forprev_number == "ABC12345")).one()
    assert dupont.last_name == 'DUPONT, DIT "LE GRAND"'
    assert (
        db.exec(select(Person).where(Person.forprev_number == "ABF12345")).one().birth_date is None
    )
    rows = _report(app, db, run)
    assert rows[0] == [*KINDS["personnes"].columns, "ligne", "motif"], "the file's separator"
    assert rows[1][:2] == ["ABD12345", "Martin"] and rows[1][-2] == "3"
    assert rows[1][-1].startswith("caractère nul")
    assert rows[2][-1] == "date illisible (date_naissance) : 1980-01-01 — attendu jj/mm/aaaa"


def test_a_missing_column_fails_the_run_before_any_line(app, db):
    run = _run(app, db, "habilitations", "numero;code_entite;dispositif;niveau;date_debut\n")
    assert run.status == "echoue"
    assert run.error == "Fichier refusé : colonne manquante : date_fin"
    assert run.done == 0 and run.report_file_id is None


# --- nothing half-imported --------------------------------------------------------------


def test_a_failure_in_the_real_run_writes_nothing_of_the_file_and_names_its_line(
    app, db, monkeypatch, client, login_as, admin
):
    real_handler = KINDS["entites"].handler
    seen = []

    def breaks_on_the_third(ctx, line, values):
        seen.append(line)
        if line == 4:
            raise RuntimeError("panne de disque")
        return real_handler(ctx, line, values)

    monkeypatch.setitem(
        KINDS, "entites", dataclasses.replace(KINDS["entites"], handler=breaks_on_the_third)
    )
    with pytest.raises(runner.ImportFailed) as failure:
        _run(app, db, "entites", ENTITES)
    assert seen == [2, 3, 4], "the lines before it were imported in the transaction"
    assert "Échec à la ligne 4 : RuntimeError — panne de disque" in failure.value.message
    assert _count(db, Organization) == 0, "rolled back: nothing of the file"
    run = db.exec(select(ImportRun)).one()
    assert run.status == "echoue" and run.error.startswith("Échec à la ligne 4")
    login_as(admin)
    page = unescape(client.get(f"/import/{run.id}").get_data(as_text=True))
    assert "Échec à la ligne 4" in page and "Rien de ce fichier n'a été enregistré" in page
    assert "Relancer l'import réel avec le même fichier" in page


def test_a_run_whose_job_died_does_not_stay_running(app, db, client, login_as, admin):
    with app.app_context():
        stored = runner.store_import_file(db, "x.csv", [ENTITES.encode()])
        run = runner.create_run(db, kind="entites", file_id=stored.id, dry_run=False, actor_id=None)
    run.status = "en_cours"
    run.created_at = utcnow() - timedelta(minutes=5)
    db.add(run)
    db.commit()  # its job was never queued: Redis lost it, or the worker was killed
    login_as(admin)
    response = client.get(f"/import/{run.id}/progression")
    assert response.status_code == 286
    assert "Le traitement s'est arrêté sans finir" in unescape(response.get_data(as_text=True))
    db.expire_all()
    assert db.get(ImportRun, run.id).status == "echoue"
    response = client.post(
        f"/import/{run.id}/relancer",
        data={"csrf_token": csrf_token(client, f"/import/{run.id}")},
    )
    assert response.status_code == 303
    again = db.exec(select(ImportRun).where(ImportRun.id != run.id)).one()
    assert (again.kind, again.file_id, again.dry_run, again.status) == (
        "entites",
        stored.id,
        False,
        "en_attente",
    )


def test_only_the_administrator_imports(client, login_as, db):
    from tests.factories import organization

    manager = person(db)
    grant(db, manager, Role.GESTIONNAIRE, organization=organization(db))
    db.commit()
    login_as(manager)
    assert client.get("/import/").status_code == 403


# --- flask import -----------------------------------------------------------------------


def test_flask_import_from_the_shell(app, db, database_url):
    env = {"FORPREV_ENV": "test", "FORPREV_DATABASE_URL": database_url}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "entites.csv"
        path.write_text(ENTITES, encoding="utf-8")
        essai = run_flask("import", "entites", str(path), "--dry-run", env=env)
        assert essai.returncode == 2, essai.stderr
        assert "2 seraient créées, 0 seraient modifiées, 0 inchangées, 3 refusées." in essai.stdout
        assert "ligne 4 : SIRET invalide : 12345678901234" in essai.stderr
        assert _count(db, Organization) == 0
        report = Path(folder) / "refus.csv"
        real = run_flask("import", "entites", str(path), "--refus", str(report), env=env)
        assert real.returncode == 2, real.stderr
        assert "2 ont été créées, 0 ont été modifiées, 0 inchangées, 3 refusées." in real.stdout
        assert _count(db, Organization) == 2
        assert report.read_text(encoding="utf-8-sig").splitlines()[1].startswith("10003;GAMMA;")
        clean = Path(folder) / "propre.csv"
        clean.write_text("\n".join(ENTITES.splitlines()[:3]) + "\n", encoding="utf-8")
        again = run_flask("import", "entites", str(clean), env=env)
        assert again.returncode == 0, again.stderr
        assert "0 ont été créées, 0 ont été modifiées, 2 inchangées, 0 refusées." in again.stdout
        broken = Path(folder) / "sans-siret.csv"
        broken.write_text("code;raison_sociale\n1;X\n", encoding="utf-8")
        refused = run_flask("import", "entites", str(broken), env=env)
        assert refused.returncode == 1
        assert "colonnes manquantes : type, siret, nda" in refused.stderr
        old_mac = Path(folder) / "retours-chariot.csv"
        old_mac.write_bytes(ENTITES.replace("\n", "\r").encode())
        read = run_flask("import", "entites", str(old_mac), "--essai", env=env)
        assert read.returncode == 2 and "Traceback" not in read.stderr, read.stderr
        assert "0 seraient créées, 0 seraient modifiées, 2 inchangées, 3 refusées." in read.stdout
    runs = db.exec(select(ImportRun)).all()
    assert {(run.job_id, run.status) for run in runs} == {(None, "termine")}, (
        "a command-line run has no RQ job to look for"
    )


def test_a_few_thousand_lines_run_by_the_worker_with_their_progress(
    app, db, client, login_as, admin, redis_url
):
    lines = [
        f"{chr(65 + i // 676)}{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}{i:05d};NOM{i};Prénom;"
        f"01/01/1980;personne{i}@exemple.fr"
        for i in range(2500)
    ]
    data = ("numero_forprev;nom;prenom;date_naissance;email\n" + "\n".join(lines)).encode()
    login_as(admin)
    response = _upload(client, "personnes", data, mode="reel")
    assert response.status_code == 303
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    _work(app, redis_url)
    run = db.get(ImportRun, run_id)
    assert _counts(run) == ("termine", 2500, 0, 0, 0)
    assert (run.done, run.total, run.report_file_id) == (2500, 2500, None)
    assert _count(db, Person) == 2501
    from rq.job import Job

    job = Job.fetch(run.job_id, connection=get_queue(redis_url).connection)
    assert job.meta == {"done": 2500, "total": 2500}, "the polled progress"
    page = unescape(client.get(f"/import/{run_id}").get_data(as_text=True))
    assert "Import terminé" in page and "Lignes refusées" not in page


def test_the_scheduler_sweep_fails_the_runs_whose_job_died(app, db, redis_url):
    from jobs.imports import recover_stopped

    with app.app_context():
        stored = runner.store_import_file(db, "x.csv", [PERSONNES.encode()])
        lost = runner.create_run(
            db, kind="personnes", file_id=stored.id, dry_run=True, actor_id=None
        )
        queued = runner.create_run(
            db, kind="personnes", file_id=stored.id, dry_run=True, actor_id=None
        )
        runner.enqueue_run(db, queued)
        lost.status, lost.created_at = "en_cours", utcnow() - timedelta(minutes=5)
        db.add(lost)
        db.commit()
        assert recover_stopped(db, get_queue(redis_url)) == [lost.id]
    db.expire_all()
    assert db.get(ImportRun, lost.id).status == "echoue"
    assert db.get(ImportRun, queued.id).status == "en_attente", "its job is on its way"
    _work(app, redis_url)
    db.expire_all()
    assert db.get(ImportRun, queued.id).status == "termine"


# --- the review's defects ----------------------------------------------------------------


def test_a_line_without_code_never_takes_a_code_the_file_gives_to_a_later_line(app, db):
    siret_c, siret_d = siret("3330000000003"), siret("6660000000006")
    text = (
        "code;raison_sociale;type;siret;nda;adresse;code_postal;ville\n"
        f";NOUVELLE;entreprise;{siret_c};;9 rue Neuve;67000;Strasbourg\n"
        f"00001;FORMATION ALPHA;organisme_formation;{SIRET_A};42670000167;1 rue;67000;Strasbourg\n"
        f";AUTRE;entreprise;{siret_d};;8 rue;67000;Strasbourg\n"
        f";AUTRE BIS;entreprise;{siret_d};;8 rue;67000;Strasbourg\n"
        f";ALPHA SANS CODE;entreprise;{SIRET_A};;1 rue;67000;Strasbourg\n"
        "00000003;MAUVAIS CODE;entreprise;12345678901234;;1 rue;67000;Strasbourg\n"
    )
    dry = _run(app, db, "entites", text, dry_run=True)
    first = _run(app, db, "entites", text)
    assert _counts(first) == ("termine", 3, 0, 0, 3)
    assert _counts(dry)[1:] == _counts(first)[1:], "the essai's counts are the real run's"
    codes = dict(db.exec(select(Organization.name, Organization.code)).all())
    assert codes == {"NOUVELLE": "00002", "FORMATION ALPHA": "00001", "AUTRE": "00003"}
    reasons = _reasons(app, db, first)
    assert reasons[5] == f"SIRET en double dans le fichier : déjà celui de la ligne 4 ({siret_d})"
    assert reasons[6] == (
        f"le SIRET {SIRET_A} est celui de la ligne 3, code 00001 : mettez ce code sur la ligne"
    )
    again = _run(app, db, "entites", text)
    assert _counts(again) == ("termine", 0, 0, 3, 3), "the second run changes nothing"
    assert _count(db, Organization) == 3


def _stored_run(app, db, status="en_cours", age=timedelta(minutes=5), **how) -> ImportRun:
    with app.app_context():
        stored = runner.store_import_file(db, "x.csv", [ENTITES.encode()])
        run = runner.create_run(
            db, kind="entites", file_id=stored.id, dry_run=False, actor_id=None, **how
        )
    run.status, run.created_at = status, utcnow() - age
    db.add(run)
    db.commit()
    return run


def test_a_command_line_run_is_not_failed_while_its_command_runs(
    app, db, client, login_as, admin, redis_url
):
    from jobs.imports import recover_stopped
    from tests.conftest import is_postgres

    run = _stored_run(app, db, command=True)
    assert run.job_id is None, "no RQ job to look for"
    login_as(admin)
    with app.app_context(), runner.command_alive(run.id):
        response = client.get(f"/import/{run.id}/progression")
        assert response.status_code == 200, "still polled"
        html = unescape(response.get_data(as_text=True))
        assert "Lancé par la commande flask import" in html
        assert "Le traitement s'est arrêté" not in html
        assert recover_stopped(db, get_queue(redis_url)) == []
        retry = client.post(
            f"/import/{run.id}/relancer",
            data={"csrf_token": csrf_token(client, f"/import/{run.id}")},
        )
        assert retry.status_code == 409, "no second import beside it"
    db.expire_all()
    assert db.get(ImportRun, run.id).status == "en_cours"
    assert _count(db, ImportRun) == 1
    if not is_postgres():  # no lock to tell: a command-line run is given hours
        assert "marqué échoué 6 heures après son lancement" in html
        run.created_at = utcnow() - timedelta(hours=7)
        db.add(run)
        db.commit()
    # its command ended without finishing it
    with app.app_context():
        assert recover_stopped(db, get_queue(redis_url)) == [run.id]
    db.expire_all()
    stopped = db.get(ImportRun, run.id)
    assert (
        stopped.status == "echoue" and "La commande « flask import » s'est arrêtée" in stopped.error
    )


def test_relancer_or_lancer_l_import_reel_twice_starts_one_run(
    app, db, client, login_as, admin, monkeypatch
):
    import threading

    from sqlmodel import Session

    failed = _stored_run(app, db, status="echoue")
    login_as(admin)
    token = csrf_token(client, f"/import/{failed.id}")
    for _click in range(2):
        client.post(f"/import/{failed.id}/relancer", data={"csrf_token": token})
    assert _count(db, ImportRun) == 2, "the second click starts nothing"

    dry = _run(app, db, "personnes", PERSONNES, dry_run=True)
    dry_id, file_id = dry.id, dry.file_id  # the threads share no session
    create_run = runner.create_run
    barrier = threading.Barrier(2, timeout=2)

    def meets_the_other_click(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()  # both clicks past their checks at once, if they can be
        return create_run(*args, **kwargs)

    monkeypatch.setattr(runner, "create_run", meets_the_other_click)
    outcomes = []

    def click():
        with app.app_context(), Session(app.extensions["forprev_engine"]) as session:
            try:
                runner.real_run_of(session, session.get(ImportRun, dry_id), None)
                session.commit()
                outcomes.append("lancé")
            except runner.DomainError as exc:
                session.rollback()
                outcomes.append(exc.message)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    real = db.exec(
        select(ImportRun).where(ImportRun.file_id == file_id, ImportRun.dry_run.is_(False))
    ).all()
    assert len(outcomes) == 2 and len(real) == 1, outcomes
    assert sorted(outcomes)[0].startswith("L'import réel de ce fichier a déjà été lancé")


def test_a_file_with_carriage_returns_only_is_read(app, db, client, login_as, admin):
    data = PERSONNES.replace("\n", "\r").encode()
    login_as(admin)
    response = _upload(client, "personnes", data)
    assert response.status_code == 303
    run = _run(app, db, "personnes", data)
    assert _counts(run) == ("termine", 2, 0, 0, 3)
    assert run.total == 5, "the progress bar counts its lines"
    assert _reasons(app, db, run)[3] == "date impossible : 31/02/1985"
    mixed = (
        b"numero_forprev;nom;prenom;date_naissance;email\r"
        b"ABC12345;Dupont;Marie;14/07/1980;marie.dupont@exemple.fr\r\n"
        b"ABG12345;Blanc;Jean;01/01/1970;jean@exemple.fr\n"
    )
    assert _counts(_run(app, db, "personnes", mixed)) == ("termine", 1, 0, 1, 0)


def test_a_field_too_long_or_a_quote_never_closed_refuses_its_line_alone(app, db):
    long_name = "x" * 200_000
    text = (
        "numero_forprev;nom;prenom;date_naissance;email\n"
        "ABC12345;Dupont;Marie;14/07/1980;marie.dupont@exemple.fr\n"
        f"ABD12345;{long_name};Paul;01/01/1985;paul@exemple.fr\n"
        'ABE12345;"Durand;Zoé;01/01/1990;zoe@exemple.fr\n'
        "ABF12345;Petit;Léa;02/03/1991;lea.petit@exemple.fr\n"
        "ABG12345;Blanc;Jean;01/01/1970;jean@exemple.fr\n"
    )
    run = _run(app, db, "personnes", text)
    assert _counts(run) == ("termine", 3, 0, 0, 2)
    reasons = _reasons(app, db, run)
    assert reasons[3].startswith("valeur trop longue (plus de 131 072 caractères)")
    assert reasons[4].startswith("guillemet ouvert et jamais refermé")
    numbers = set(db.exec(select(Person.forprev_number)).all())
    assert numbers == {"ABC12345", "ABF12345", "ABG12345"}, "the lines after them are read"
    # a quote never closed up to a value over the limit: the same line alone
    swallowing = text.replace("ABF12345;Petit", "ABF12345;" + "y" * 140_000)
    run = _run(app, db, "personnes", swallowing)
    reasons = _reasons(app, db, run)
    assert reasons[4].startswith("guillemet ouvert et jamais refermé")
    assert reasons[5].startswith("valeur trop longue")
    assert _counts(run) == ("termine", 0, 0, 2, 3)


def test_dates_outside_the_app_s_years_refuse_their_line(app, db):
    from app.blueprints.account import forms
    from app.domain.importing import csvfile

    _run(app, db, "personnes", PERSONNES)
    text = (
        "numero_forprev;dispositif;niveau;modele;date_debut;date_fin\n"
        "ABC12345;SST;2;;01/01/9999;\n"
        "ABC12345;SST;2;;01/01/0001;01/01/2030\n"
        "ABC12345;SST;2;;01/01/2998;\n"
        f"ABC12345;SST;2;;{today() - timedelta(days=30):%d/%m/%Y};\n"
    )
    run = _run(app, db, "certificats", text)
    assert _counts(run) == ("termine", 1, 0, 0, 3)
    reasons = _reasons(app, db, run)
    assert (
        reasons[2] == "date hors des années admises (date_debut) : 01/01/9999 — entre 1900 et 2999"
    )
    assert (
        reasons[3] == "date hors des années admises (date_debut) : 01/01/0001 — entre 1900 et 2999"
    )
    assert reasons[4].startswith("date de fin calculée hors des années admises")
    assert (csvfile.MIN_YEAR, csvfile.MAX_YEAR) == (forms.MIN_YEAR, forms.MAX_YEAR)


def test_a_csv_file_larger_than_a_pdf_is_taken_by_the_import_screen(
    app, client, login_as, admin, db
):
    header = "numero_forprev;nom;prenom;date_naissance;email\n"
    line = "ABC12345;Dupont;Marie;14/07/1980;marie.dupont@exemple.fr\n"
    data = (header + line * (11 * 1024 * 1024 // len(line))).encode()
    assert len(data) > app.config["UPLOAD_MAX_MB"] * 1024 * 1024
    login_as(admin)
    response = _upload(client, "personnes", data)
    assert response.status_code == 303
    assert db.exec(select(StoredFile.size)).one() == len(data)
    # every other form keeps the cap of the PDFs
    other = client.post("/connexion", data={"identifiant": "x" * len(data)})
    assert other.status_code == 413
