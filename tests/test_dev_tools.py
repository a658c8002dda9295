"""The developer's tools, run for real: `bin/run` (its logins, its port in e-mail links,
its mailbox page), `bin/flask` on the same instance, and `flask` commands that cannot run
saying why in one French line."""

import contextlib
import os
import re
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlmodel import select

from app import create_app
from app.clock import today
from app.domain.trainer_check import check_trainer
from app.models import Accreditation, Organization, Scheme, SchemeLevel
from seeds.demo import DEMO_LOGINS, DEMO_TRAINER_REFUSALS, load_demo
from tests.conftest import ROOT, dispose_test_app, free_port, run_flask, wait_for


def _env(**settings) -> dict:
    """The environment of a developer's shell: none of the settings the tests use."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORPREV_")}
    return {**env, **settings}


def _bin(*args, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "bin" / args[0]), *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _level(db, scheme_code: str, level: int) -> SchemeLevel:
    return db.exec(
        select(SchemeLevel)
        .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
        .where(Scheme.code == scheme_code, SchemeLevel.level == level)
    ).one()


# --- the logins bin/run prints ------------------------------------------------------------


def test_the_printed_logins_say_role_and_use_and_the_level_2_trainer_passes_the_check(db, tmp_path):
    result = _bin("flask", "demo-logins", env=_env(FORPREV_INSTANCE_DIR=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for role, email, number in DEMO_LOGINS:
        line = next((x for x in lines if f"  {number}  " in x and email in x), None)
        assert line is not None, (number, result.stdout)
        assert f"{number}  {role}, pour " in line, line

    # the trainer of level-2 sessions is printed, and the trainer check agrees
    level2 = [x for x in lines if "session SST niveau 2" in x and "pour " in x]
    assert len(level2) == 1, result.stdout
    number = level2[0].split()[0]
    load_demo(db)
    db.commit()
    sst2 = _level(db, "SST", 2)
    marose_sst2 = db.exec(
        select(Accreditation)
        .join(Organization, Organization.id == Accreditation.organization_id)
        .where(Organization.name == "MAROSE FORMATION", Accreditation.scheme_level_id == sst2.id)
    ).one()
    end = today() + timedelta(days=30)
    assert marose_sst2.start_date <= end <= marose_sst2.end_date
    check = check_trainer(db, scheme_level_id=sst2.id, end_date=end, forprev_number=number)
    assert check.ok, [line.message for line in check.lines]
    assert "formateur de formateurs" in check.lines[2].message

    # each number printed as refused is refused, for the reason printed
    for number, scheme, level, _why in DEMO_TRAINER_REFUSALS:
        assert f"  {number}  pour une session {scheme} niveau {level} : " in result.stdout
        refused = check_trainer(
            db,
            scheme_level_id=_level(db, scheme, level).id,
            end_date=end,
            forprev_number=number,
        )
        assert not refused.ok and refused.person is not None, number


# --- bin/flask on the instance bin/run serves ---------------------------------------------


def test_bin_flask_works_on_the_bin_run_instance(tmp_path):
    instance = tmp_path / "instance"
    port = free_port()
    env = _env(FORPREV_INSTANCE_DIR=str(instance), FORPREV_PORT=str(port))
    for command in (("db", "upgrade"), ("seed", "reference"), ("seed", "demo")):
        result = _bin("flask", *command, env=env)
        assert result.returncode == 0, result.stderr
    # the instance's own secret key, kept as bin/run keeps it
    key = instance / "secret_key"
    assert len(key.read_text().strip()) == 64 and key.stat().st_mode & 0o077 == 0

    # a closed session whose 15 days are over is purged from the instance's database
    database = sqlite3.connect(instance / "forprev.db")
    with database:
        closed = database.execute(
            "UPDATE certsession SET purge_after = ? WHERE closed_at IS NOT NULL",
            ((today() - timedelta(days=1)).isoformat(),),
        ).rowcount
    assert closed == 1
    purged = _bin("flask", "purge", env=env)
    assert purged.returncode == 0, purged.stderr
    assert "Sessions purgées : 1" in purged.stdout
    left = database.execute("SELECT count(*) FROM certsession WHERE closed_at IS NOT NULL")
    assert left.fetchone()[0] == 0
    database.close()

    # links follow FORPREV_PORT
    admin = _bin(
        "flask",
        "create-admin",
        "--email",
        "nouvel.admin@example.fr",
        "--first-name",
        "Aline",
        "--last-name",
        "ROUX",
        env=env,
    )
    assert admin.returncode == 0, admin.stderr
    assert f"  http://127.0.0.1:{port}/mot-de-passe/nouveau/" in admin.stdout


def test_an_explicit_base_url_wins_over_the_port(tmp_path):
    env = _env(
        FORPREV_INSTANCE_DIR=str(tmp_path),
        FORPREV_PORT="5077",
        FORPREV_BASE_URL="https://forprev.exemple.fr",
    )
    assert _bin("flask", "db", "upgrade", env=env).returncode == 0
    admin = _bin(
        "flask",
        "create-admin",
        "--email",
        "a@example.fr",
        "--first-name",
        "A",
        "--last-name",
        "B",
        env=env,
    )
    assert "  https://forprev.exemple.fr/mot-de-passe/nouveau/" in admin.stdout, admin.stderr


# --- a command that cannot run says why in French, in one line ----------------------------


SETTING_ERRORS = [
    (
        {"FORPREV_ENV": "production", "FORPREV_SECRET_KEY": ""},
        "Erreur : FORPREV_SECRET_KEY doit être défini hors du mode development.",
    ),
    (
        {"FORPREV_SMTP_PORT": "vingt-cinq"},
        "Erreur : FORPREV_SMTP_PORT doit être un nombre entier (lu : « vingt-cinq »).",
    ),
]
DATABASE_ERRORS = [
    (
        {"FORPREV_DATABASE_URL": "postgresql+psycopg://forprev:secret@127.0.0.1:1/forprev"},
        "Erreur : la base de données (postgresql+psycopg://forprev:***@127.0.0.1:1/forprev) "
        "ne répond pas, vérifiez FORPREV_DATABASE_URL.",
    ),
    (
        {"FORPREV_DATABASE_URL": "sqlite:////nulle-part/forprev.db"},
        "Erreur : la base de données (sqlite:////nulle-part/forprev.db) ne répond pas, "
        "vérifiez FORPREV_DATABASE_URL.",
    ),
]


@pytest.mark.parametrize(
    "command, settings, message",
    [(command, *error) for command in ("purge", "routes") for error in SETTING_ERRORS]
    + [(command, *error) for command in ("purge", "db upgrade") for error in DATABASE_ERRORS],
)
def test_a_command_missing_a_setting_prints_one_french_line(command, settings, message, tmp_path):
    env = {"FORPREV_ENV": "development", "FORPREV_INSTANCE_DIR": str(tmp_path), **settings}
    result = run_flask(*command.split(), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == message, result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_database_without_its_tables_asks_for_the_migrations(tmp_path):
    env = {"FORPREV_ENV": "development", "FORPREV_INSTANCE_DIR": str(tmp_path)}
    result = run_flask("purge", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Erreur : la base de données (sqlite:///{tmp_path}/forprev.db) n'est pas créée, "
        "lancez « flask db upgrade »."
    )


# --- the mailbox page ---------------------------------------------------------------------


@pytest.fixture
def dev_app(database_url, redis_url, tmp_path):
    application = create_app(
        {
            "TESTING": True,
            "ENV": "development",
            "SECRET_KEY": "clé-de-test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MAILBOX_DIR": str(tmp_path / "mailbox"),
        }
    )
    yield application
    dispose_test_app(application)


def _catch(mailbox_dir: Path, subject: str, body: str, sent: datetime) -> None:
    """Send a mail through the development mail catcher itself."""
    from aiosmtpd.controller import Controller

    from app.mailcatcher import MaildirHandler

    port = free_port()
    controller = Controller(MaildirHandler(str(mailbox_dir)), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        message = EmailMessage()
        message["From"] = "Forprev <ne-pas-repondre@forprev.localhost>"
        message["To"] = "karine.paris@demo.forprev.fr"
        message["Subject"] = subject
        message["Date"] = format_datetime(sent)
        message.set_content(body)
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message)
    finally:
        controller.stop()


def test_mailbox_page_shows_french_dates_and_clickable_links(dev_app, tmp_path):
    body = (
        "Bonjour,\n"
        "Définissez votre mot de passe : http://127.0.0.1:5077/mot-de-passe/nouveau/abc?x=1&y=2.\n"
        "(Aide : https://forprev.exemple.fr/aide/)\n"
        "<script>alert(1)</script> javascript:alert(2) ftp://exemple.fr/f\n"
    )
    _catch(
        tmp_path / "mailbox",
        "Votre compte Forprev",
        body,
        datetime(2026, 7, 14, 10, 30, tzinfo=UTC),
    )
    client = dev_app.test_client()

    listing = client.get("/dev/courriels").get_data(as_text=True)
    assert "<td>14/07/2026 à 12:30</td>" in listing  # Europe/Paris, summer time
    assert "Jul" not in listing and "+0000" not in listing
    key = re.search(r'href="/dev/courriels/([^"]+)">Votre compte Forprev</a>', listing).group(1)

    page = client.get(f"/dev/courriels/{key}").get_data(as_text=True)
    assert "<dd>14/07/2026 à 12:30</dd>" in page
    assert (
        '<a href="http://127.0.0.1:5077/mot-de-passe/nouveau/abc?x=1&amp;y=2" rel="noopener">'
        "http://127.0.0.1:5077/mot-de-passe/nouveau/abc?x=1&amp;y=2</a>.\n"
    ) in page
    assert (
        '(Aide : <a href="https://forprev.exemple.fr/aide/" rel="noopener">'
        "https://forprev.exemple.fr/aide/</a>)"
    ) in page
    # only http(s) links, and the text stays text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert 'href="javascript' not in page and 'href="ftp' not in page
    assert (
        len(re.findall(r"<a href=\"http", page.split('class="mail-body"')[1].split("</pre>")[0]))
        == 2
    )


# --- bin/run itself -----------------------------------------------------------------------


class _Output:
    """What a running process prints, read as it comes."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_bin_run_prints_the_logins_and_links_point_to_its_port():
    # a short path: the embedded Redis listens on a unix socket inside the instance
    instance = Path(tempfile.mkdtemp(prefix="fp-run-"))
    port = free_port()
    env = _env(
        FORPREV_INSTANCE_DIR=str(instance),
        FORPREV_PORT=str(port),
        FORPREV_SMTP_PORT=str(free_port()),  # beside a bin/run already on 1025
        FORPREV_SCHEDULER_TICK="1",
    )
    run = subprocess.Popen(
        [str(ROOT / "bin" / "run")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = _Output(run.stdout)
    try:
        started = wait_for(
            lambda: "Numéros refusés" in output.text or run.poll() is not None, timeout=240
        )
        assert started and run.poll() is None, output.text
        text = output.text
        assert f"Forprev est prêt : http://127.0.0.1:{port}" in text
        assert f"Liens des courriels et QR codes : http://127.0.0.1:{port}" in text
        for _role, email, number in DEMO_LOGINS:
            assert re.search(rf"  {number}  .+, pour .+  <{re.escape(email)}>", text), number
        assert re.search(r"MAR55504  .+, pour animer une session SST niveau 2", text)

        # a command on the running instance, and the mail it sends, linking to this port
        admin = _bin(
            "flask",
            "create-admin",
            "--email",
            "nouvel.admin@example.fr",
            "--first-name",
            "Aline",
            "--last-name",
            "ROUX",
            env=env,
        )
        assert admin.returncode == 0, admin.stderr
        link = re.search(rf"http://127\.0\.0\.1:{port}/mot-de-passe/nouveau/\S+", admin.stdout)
        assert link, admin.stdout
        purge = _bin("flask", "purge", env=env)
        assert purge.returncode == 0 and "Sessions purgées : 0" in purge.stdout, purge.stderr

        mailbox = f"http://127.0.0.1:{port}/dev/courriels"
        assert wait_for(lambda: "nouvel.admin@example.fr" in _get(mailbox), timeout=60), output.text
        listing = _get(mailbox)
        assert re.search(r"<td>\d\d/\d\d/\d{4} à \d\d:\d\d</td><td>nouvel\.admin", listing)
        key = re.search(
            r"<td>nouvel\.admin@example\.fr</td><td><a href=\"/dev/courriels/([^\"]+)\"", listing
        ).group(1)
        mail = _get(f"{mailbox}/{key}")
        assert f'<a href="{link.group(0)}" rel="noopener">' in mail
        assert re.search(r"<dd>\d\d/\d\d/\d{4} à \d\d:\d\d</dd>", mail)
        # the link opens the app's page to set the password
        assert "mot de passe" in _get(link.group(0)).lower()
    except BaseException:
        print(output.text)  # the servers' log, shown with the failure
        raise
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
        time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):  # whatever honcho left behind
            os.killpg(run.pid, signal.SIGKILL)
        shutil.rmtree(instance, ignore_errors=True)
