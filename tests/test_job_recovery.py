"""Jobs recover without a person: a certificate generation whose work horse or worker is
killed with SIGKILL is taken up again by the scheduler's sweep and ends with each
certificate once (or, after MAX_RESUMES, failed with the retry button); a targeted
message or a daily job whose job died is asked for again."""

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from rq import SimpleWorker
from rq.registry import StartedJobRegistry
from sqlmodel import select

import jobs.certificates as certificate_job
from app.clock import utcnow
from app.domain.storage import get_storage
from app.models import Bundle, Certificate, Notification, StoredFile, TargetedMessage
from app.queue import get_queue, redis_connection
from jobs import scheduler
from tests import factories
from tests.conftest import ROOT, wait_for
from tests.test_certificates import _bundle, _closed, _login, make_setting

MANY = [
    (f"NOM{chr(65 + i // 26)}{chr(65 + i % 26)}", "Prénom", date(1990, 1, 1 + i % 28), True)
    for i in range(60)
]


@pytest.fixture
def setting(db):
    return make_setting(db)


def _env(database_url, redis_url, **extra) -> dict:
    return {
        **os.environ,
        "FORPREV_SECRET_KEY": "x",
        "FORPREV_ENV": "test",
        "FORPREV_DATABASE_URL": database_url,
        "FORPREV_REDIS_URL": redis_url,
        "FORPREV_BASE_URL": "http://forprev.test",
        **extra,
    }


def _start(command: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", command],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _done(db, cs_id) -> int:
    db.expire_all()
    bundle = db.exec(select(Bundle).where(Bundle.cert_session_id == cs_id)).first()
    return bundle.done if bundle else 0


def _work_horse(worker: subprocess.Popen) -> int | None:
    """The process the RQ worker forked for the job it is running."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    return int(children[0]) if children else None


def _each_certificate_once(db, cs_id, count: int) -> None:
    bundle = _bundle(db, cs_id)
    assert (bundle.status, bundle.done, bundle.total) == ("pret", count, count)
    certificates = db.exec(select(Certificate)).all()
    assert len(certificates) == count
    assert len({c.trainee_id for c in certificates}) == count
    assert len({c.number for c in certificates}) == count
    assert len({c.file_id for c in certificates if c.file_id}) == count
    # nothing drawn twice: one PDF per certificate, the ZIP and the printing PDF
    files = db.exec(select(StoredFile)).all()
    assert len(files) == count + 2 and all(f.complete for f in files)
    storage = get_storage()
    with zipfile.ZipFile(io.BytesIO(storage.read(db, bundle.zip_file_id))) as archive:
        assert len(set(archive.namelist())) == count
    assert len(PdfReader(io.BytesIO(storage.read(db, bundle.pdf_file_id))).pages) == count
    tasks = db.exec(select(Notification).where(Notification.object_type == "bundle")).all()
    assert len(tasks) == 1


def test_a_killed_work_horse_is_taken_up_again_without_anyone(
    app, db, setting, database_url, redis_url
):
    """SIGKILL to the work horse mid-bundle: the worker fails the job, the scheduler's next
    round asks for the next run, which finishes from where the killed one stopped."""
    cs = _closed(db, setting, trainees=MANY)
    env = _env(database_url, redis_url, FORPREV_SCHEDULER_TICK="1")
    get_queue(redis_url).enqueue(certificate_job.GENERATE, cs.id)
    worker = _start("worker", env)
    planner = None
    try:
        assert wait_for(lambda: _done(db, cs.id) >= 5, timeout=90)
        horse = _work_horse(worker)
        assert horse is not None
        os.kill(horse, signal.SIGKILL)
        stopped_at = _done(db, cs.id)
        assert stopped_at < len(MANY), "killed mid-bundle"
        assert _bundle(db, cs.id).status == "en_cours"
        planner = _start("scheduler", env)
        assert wait_for(lambda: _bundle(db, cs.id).status != "en_cours", timeout=180)
    finally:
        for process in (worker, planner):
            if process is not None:
                _stop(process)
    _each_certificate_once(db, cs.id, len(MANY))
    assert _bundle(db, cs.id).resumes == 1


def test_a_killed_worker_is_taken_up_again_once_rq_counts_its_job_abandoned(
    app, db, setting, database_url, redis_url, monkeypatch
):
    """The whole worker killed: its job stays "started" until its heartbeat lapses (about
    90 s); RQ's cleanup, run by the scheduler, then fails it and the sweep resumes it."""
    monkeypatch.setattr(scheduler, "DAILY_JOBS", [])
    cs = _closed(db, setting, trainees=MANY[:20])
    env = _env(database_url, redis_url)
    queue = get_queue(redis_url)
    queue.enqueue(certificate_job.GENERATE, cs.id)
    worker = _start("worker", env)
    try:
        assert wait_for(lambda: _done(db, cs.id) >= 3, timeout=90)
    finally:
        _stop(worker)
    assert _bundle(db, cs.id).status == "en_cours"
    assert scheduler.tick(app, db) == [], "its heartbeat has not lapsed yet: still running"
    # 90 s later, as the scheduler's round sees it (RQ's own clock)
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 120)
    assert scheduler.tick(app, db) == [f"{certificate_job.GENERATE}({cs.id})"]
    assert scheduler.tick(app, db) == [], "the next run is on its way"
    burst = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert burst.returncode == 0, burst.stderr
    _each_certificate_once(db, cs.id, 20)


def test_a_generation_that_keeps_dying_is_failed_with_the_retry(
    app, db, setting, redis_url, monkeypatch
):
    monkeypatch.setattr(scheduler, "DAILY_JOBS", [])
    cs = _closed(db, setting)
    bundle = Bundle(
        cert_session_id=cs.id,
        status="en_cours",
        done=1,
        total=2,
        job_id="perdu-par-redis",
        resumes=certificate_job.MAX_RESUMES,
        expires_at=utcnow() + timedelta(days=15),
    )
    db.add(bundle)
    db.commit()
    assert scheduler.tick(app, db) == []
    assert _bundle(db, cs.id).status == "echec"
    assert get_queue(redis_url).count == 0
    client = _login(app, "karine@exemple.fr")
    page = client.get(f"/sessions/{cs.id}/telechargements").get_data(as_text=True)
    assert "La génération des certificats a échoué à 1 / 2 certificats" in page
    assert "Relancer la génération" in page


def test_a_targeted_message_whose_job_died_is_mailed_all_the_same(app, db, redis_url, monkeypatch):
    monkeypatch.setattr(scheduler, "DAILY_JOBS", [])
    author = factories.person(db)
    message = TargetedMessage(
        author_id=author.id,
        title="Nouveau référentiel",
        body="…",
        display_from=utcnow(),
        sent_at=utcnow() - timedelta(minutes=3),
    )
    db.add(message)
    db.commit()
    name = f"jobs.messages.mail_targeted_message({message.id})"
    assert scheduler.tick(app, db) == [name]
    assert scheduler.tick(app, db) == [], "on its way"
    queue = get_queue(redis_url)
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    db.expire_all()
    assert db.get(TargetedMessage, message.id).mailed_at is not None
    redis_connection(redis_url).delete(f"forprev:messages:{message.id}")  # 10 minutes later
    assert scheduler.tick(app, db) == [], "all mailed: not asked again"


FAILURES = []


def flaky_daily() -> str:
    """A daily job that fails the first time it runs."""
    FAILURES.append(1)
    if len(FAILURES) == 1:
        raise RuntimeError("base de données injoignable")
    return "fait"


def test_a_daily_job_that_failed_is_asked_for_again_until_it_has_run(
    app, db, redis_url, monkeypatch
):
    FAILURES.clear()
    job = "tests.test_job_recovery.flaky_daily"
    monkeypatch.setattr(scheduler, "DAILY_JOBS", [job])
    queue = get_queue(redis_url)
    redis = redis_connection(redis_url)

    def ten_minutes_later():
        # the "asked" mark expires after ASK_AGAIN: drop it rather than wait (a short
        # ASK_AGAIN made the test depend on how fast the worker ran)
        keys = redis.keys(f"forprev:daily:*:{job}")
        assert len(keys) == 1
        redis.delete(*keys)

    assert scheduler.tick(app, db) == [job]
    assert scheduler.tick(app, db) == [], "on its way"
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert FAILURES == [1]
    assert scheduler.tick(app, db) == [], "asked at most every ASK_AGAIN"
    ten_minutes_later()
    assert scheduler.tick(app, db) == [job]
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert FAILURES == [1, 1]
    ten_minutes_later()
    assert scheduler.tick(app, db) == [], "it has run today"
