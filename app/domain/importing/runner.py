"""One import run, the same for the web screen's job and `flask import`.

The file's lines are read one after the other and each is created, updated, left
unchanged or refused, in ONE transaction: a dry run rolls it back at the end (so its
counts are the real run's, by the same code), a real run commits it with the run's
report. A failure that is no refusal (a bug, the database away) rolls the whole file
back and the run says at which line it stopped: nothing is half-imported.
"""

import csv
import io
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import Integer, cast, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.clock import utcnow
from app.domain.audit import record_event
from app.domain.background import enqueue_after_commit
from app.domain.errors import DomainError
from app.domain.importing.csvfile import (
    BOM,
    HEAD_BYTES,
    ChunkStream,
    FileRefused,
    Header,
    LineRefused,
    count_lines,
    inspect_head,
    read_records,
    report_row,
)
from app.domain.importing.kinds import CREATED, KINDS, UNCHANGED, UPDATED, Context
from app.domain.storage import get_storage
from app.models import ImportRun, StoredFile

log = logging.getLogger(__name__)

WAITING, RUNNING, FINISHED, FAILED = "en_attente", "en_cours", "termine", "echoue"
STATUS_LABELS = {
    WAITING: "En attente",
    RUNNING: "En cours",
    FINISHED: "Terminé",
    FAILED: "Échoué",
}
JOB = "jobs.imports.run_import_job"
STOPPED = (
    "Le traitement s'est arrêté sans finir (serveur redémarré ou file de travaux "
    "indisponible) : rien n'a été écrit. Relancez l'import."
)
COMMAND_STOPPED = (
    "La commande « flask import » s'est arrêtée sans finir (processus interrompu ou "
    "serveur redémarré) : rien n'a été écrit. Relancez l'import."
)
# a run whose job is not on its way is settled as stopped after this delay
GRACE = timedelta(seconds=30)
# A run of `flask import` has no RQ job (job_id None). On PostgreSQL its command holds the
# advisory lock (COMMAND_LOCK, run id) on a connection of its own while it runs: the
# server lets it go when the process ends, however it ends. SQLite has no such lock: a
# command-line run is taken as running for COMMAND_GRACE after it was started.
COMMAND_LOCK = 1_179_603_536  # "FORP"
COMMAND_GRACE = timedelta(hours=6)
# the refused lines shown on the run's page (all of them are in the downloadable report)
SHOWN_REFUSALS = 100

Progress = Callable[[int, int], None]


class ImportFailed(Exception):
    """The run failed and was rolled back; `message` says where, in French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def kind_label(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind


def _chunks(db: Session, file_id: int) -> Iterator[bytes]:
    return get_storage(current_app.config["STORAGE"]).iter_chunks(db, file_id)


def head_of(chunks: Iterable[bytes], size: int = HEAD_BYTES) -> bytes:
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= size:
            break
    return head[:size]


def max_import_bytes() -> int:
    """The Import screen's cap (a CSV of 100 000 lines is far larger than a PDF)."""
    return current_app.config["IMPORT_MAX_MB"] * 1024 * 1024


def too_large_message() -> str:
    return (
        f"Le fichier dépasse la taille autorisée pour un import "
        f"({current_app.config['IMPORT_MAX_MB']} Mo). Découpez-le en plusieurs fichiers CSV, "
        "chacun avec la ligne d'en-tête, ou faites-le importer sur le serveur par la "
        "commande « flask import », qui lit un fichier de toute taille."
    )


def check_file_head(kind: str, head: bytes) -> Header:
    """The file's header, or FileRefused (field "fichier"): what the form checks before
    anything is stored, and the run again before any line."""
    if kind not in KINDS:
        raise DomainError("Choisissez le type de fichier.", field="kind")
    return inspect_head(head, KINDS[kind].columns)


# --- starting a run ---------------------------------------------------------------------


def store_import_file(db: Session, name: str | None, chunks: Iterable[bytes]) -> StoredFile:
    """The file as sent (streamed into storage, never whole in memory)."""
    from app.domain.uploads import safe_name

    storage = get_storage(current_app.config["STORAGE"])
    with storage.writer(db, name=safe_name(name, ".csv"), content_type="text/csv") as out:
        for chunk in chunks:
            out.write(chunk)
    return out.file


def create_run(
    db: Session,
    *,
    kind: str,
    file_id: int,
    dry_run: bool,
    actor_id: int | None,
    command: bool = False,
) -> ImportRun:
    """A run waiting for its job (the caller commits; `enqueue_run` asks for the job). A
    run of `flask import` (`command`) has no job: its command runs it, inside
    `command_alive`."""
    run = ImportRun(kind=kind, dry_run=dry_run, file_id=file_id, created_by_id=actor_id)
    db.add(run)
    db.flush()
    run.job_id = None if command else f"import-{run.id}"
    db.add(run)
    record_event(
        db,
        actor_id=actor_id,
        action="import.requested",
        object_type="import_run",
        object_id=run.id,
        data={"kind": kind, "dry_run": dry_run, "file_id": file_id, "command": command},
    )
    return run


def enqueue_run(db: Session, run: ImportRun) -> None:
    """After the commit, a worker runs it (a 100 000-line file holds no web request)."""
    enqueue_after_commit(
        db,
        JOB,
        run.id,
        job_id=run.job_id,
        job_timeout=4 * 3600,
        failure_ttl=7 * 24 * 3600,
    )


def _claim(db: Session, run: ImportRun, status: str, refusal: str) -> None:
    """Hold the run's row while it still has `status` (a conditional UPDATE that changes
    nothing): a second click waits here until the first one's transaction ends, then
    sees the run the first one started (on SQLite the write lock does the same)."""
    claimed = db.exec(
        update(ImportRun)
        .where(ImportRun.id == run.id, ImportRun.status == status)
        .values(status=status)
    )
    if claimed.rowcount != 1:
        raise DomainError(refusal)


def real_run_of(db: Session, dry: ImportRun, actor_id: int | None) -> ImportRun:
    """ "Lancer l'import réel": the dry run's stored file, for real, once (a real run of
    it that failed is started again from its own page, "Relancer")."""
    refusal = "Seul un essai terminé peut être lancé pour de vrai."
    if not dry.dry_run or dry.status != FINISHED:
        raise DomainError(refusal)
    _claim(db, dry, FINISHED, refusal)
    launched = db.exec(
        select(ImportRun.id)
        .where(ImportRun.file_id == dry.file_id, ImportRun.dry_run.is_(False))
        .order_by(ImportRun.id)
    ).first()
    if launched is not None:
        raise DomainError(f"L'import réel de ce fichier a déjà été lancé (import n° {launched}).")
    run = create_run(db, kind=dry.kind, file_id=dry.file_id, dry_run=False, actor_id=actor_id)
    enqueue_run(db, run)
    return run


def retry_of(db: Session, failed: ImportRun, actor_id: int | None) -> ImportRun:
    """ "Relancer": a failed run (stopped, or failed by a bug since fixed) started again
    from its file, once."""
    refusal = "Seul un import échoué peut être relancé."
    if failed.status != FAILED:
        raise DomainError(refusal)
    _claim(db, failed, FAILED, refusal)
    newer = db.exec(
        select(ImportRun.id)
        .where(
            ImportRun.file_id == failed.file_id,
            ImportRun.dry_run == failed.dry_run,
            ImportRun.id > failed.id,
        )
        .order_by(ImportRun.id)
    ).first()
    if newer is not None:
        raise DomainError(f"Cet import a déjà été relancé : import n° {newer}.")
    run = create_run(
        db, kind=failed.kind, file_id=failed.file_id, dry_run=failed.dry_run, actor_id=actor_id
    )
    enqueue_run(db, run)
    return run


# --- a run of `flask import` ------------------------------------------------------------


def _engine() -> Engine:
    return current_app.extensions["forprev_engine"]


def _lock_key(run_id: int) -> tuple:
    return cast(COMMAND_LOCK, Integer), cast(run_id, Integer)


@contextmanager
def command_alive(run_id: int) -> Iterator[None]:
    """While `flask import` runs the run `run_id`: on PostgreSQL, the advisory lock that
    tells the screen and the scheduler's sweep it is running."""
    engine = _engine()
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(select(func.pg_advisory_lock(*_lock_key(run_id))))
        connection.commit()
        try:
            yield
        finally:
            connection.execute(select(func.pg_advisory_unlock(*_lock_key(run_id))))
            connection.commit()


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def command_gone(db: Session, run: ImportRun) -> bool:
    """The command that ran this command-line run no longer runs it."""
    if db.get_bind().dialect.name == "postgresql":
        # free: no process holds it (taken until this transaction ends, then let go)
        return bool(db.exec(select(func.pg_try_advisory_xact_lock(*_lock_key(run.id)))).one())
    return _aware(run.created_at) < utcnow() - COMMAND_GRACE


def command_grace_hours(db: Session) -> int | None:
    """What the page of a command-line run says: None where the lock tells (PostgreSQL),
    else the hours it is taken as running."""
    if db.get_bind().dialect.name == "postgresql":
        return None
    return int(COMMAND_GRACE.total_seconds() // 3600)


class RowProgress:
    """Progress into the run's row at most once a second, through a connection of its own
    (the import's transaction is open until its end). Not on SQLite: one connection writes
    at a time, and the import's transaction holds it."""

    def __init__(self, engine: Engine, run_id: int):
        self.engine, self.run_id = engine, run_id
        self.enabled = engine.dialect.name != "sqlite"
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 1:
            return
        self._last = now
        with Session(self.engine) as side:
            side.exec(
                update(ImportRun)
                .where(ImportRun.id == self.run_id, ImportRun.status == RUNNING)
                .values(done=done, total=total)
            )
            side.commit()


# --- running it -------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0

    @property
    def done(self) -> int:
        return self.created + self.updated + self.unchanged + self.refused


def run_import(db: Session, run_id: int, progress: Progress | None = None) -> ImportRun:
    """Run the import `run_id` (waiting, or left running by a worker that died: nothing of
    it was committed, it starts over). Returns the finished run; ImportFailed when it
    failed (rolled back, the run says why)."""
    run = db.get(ImportRun, run_id)
    if run is None or run.status in (FINISHED, FAILED):
        return run
    kind = KINDS[run.kind]
    run.status, run.error = RUNNING, None
    run.total = run.done = run.created = run.updated = run.unchanged = run.refused = 0
    db.add(run)
    db.commit()
    try:
        header = check_file_head(run.kind, head_of(_chunks(db, run.file_id)))
    except FileRefused as exc:
        return _finish(db, run, FAILED, error=f"Fichier refusé : {exc.message}")
    run.total = max(count_lines(_chunks(db, run.file_id)) - 1, 0)
    db.add(run)
    db.commit()
    if progress:
        progress(0, run.total)

    counts = Counts()
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024, mode="w+", newline="") as report:
        try:
            finished = _run_lines(db, run, kind, header, report, counts, progress)
        except _Stopped as stopped:
            db.rollback()
            log.exception("Import n° %s : échec à la ligne %s", run_id, stopped.line)
            exc = stopped.__cause__
            where = f"à la ligne {stopped.line}" if stopped.line else "après la dernière ligne"
            message = f"Échec {where} : {type(exc).__name__} — {str(exc)[:300]}"
            _finish(db, db.get(ImportRun, run_id), FAILED, error=message)
            raise ImportFailed(f"{message}. Rien n'a été importé de ce fichier.") from exc
    if progress:
        progress(counts.done, counts.done)
    return finished


class _Stopped(Exception):
    def __init__(self, line: int | None):
        super().__init__(line)
        self.line = line


def _run_lines(db, run, kind, header, report, counts: Counts, progress) -> ImportRun:
    """Every line in one transaction, then the report: committed (real) or the lines
    rolled back (dry). Any failure but a refused line: _Stopped naming the line."""
    run_id = run.id
    writer = csv.writer(report, delimiter=header.delimiter)
    writer.writerow([*header.names, "ligne", "motif"])
    line = 1
    try:
        ctx = Context.load(db, run.id, run.created_by_id)
        if kind.survey is not None:
            kind.survey(ctx, read_records(_chunks(db, run.file_id), header), header.keys)
        for record in read_records(_chunks(db, run.file_id), header):
            line = record.number
            reason, outcome = record.problem, None
            if reason is None:
                try:
                    outcome = kind.handler(ctx, record.number, record.values)
                except LineRefused as refusal:
                    reason = refusal.reason
            if reason is not None:
                counts.refused += 1
                writer.writerow(report_row(record, reason))
            elif outcome == CREATED:
                counts.created += 1
            elif outcome == UPDATED:
                counts.updated += 1
            elif outcome == UNCHANGED:
                counts.unchanged += 1
            else:
                raise RuntimeError(f"résultat inattendu : {outcome!r}")
            if progress and counts.done % 200 == 0:
                progress(counts.done, max(run.total, counts.done))
        line = None
        if run.dry_run:
            db.rollback()  # an essai writes nothing: its counts are what the real run does
            run = db.get(ImportRun, run_id)
        _store_report(db, run, report, counts)
        return _finish(db, run, FINISHED, counts=counts)
    except Exception as exc:
        raise _Stopped(line) from exc


def _store_report(db: Session, run: ImportRun, report, counts: Counts) -> None:
    if not counts.refused:
        return
    report.seek(0)
    storage = get_storage(current_app.config["STORAGE"])
    with storage.writer(
        db, name=f"import-{run.id}-lignes-refusees.csv", content_type="text/csv"
    ) as out:
        out.write(BOM)  # a spreadsheet then reads the accents right
        while text := report.read(256 * 1024):
            out.write(text.encode("utf-8"))
    run.report_file_id = out.file.id


def _finish(
    db: Session, run: ImportRun, status: str, counts: Counts | None = None, error=None
) -> ImportRun:
    run.status, run.error, run.finished_at = status, error, utcnow()
    if counts is not None:
        run.created, run.updated = counts.created, counts.updated
        run.unchanged, run.refused = counts.unchanged, counts.refused
        run.done = run.total = counts.done
    db.add(run)
    record_event(
        db,
        actor_id=run.created_by_id,
        action="import.finished" if status == FINISHED else "import.failed",
        object_type="import_run",
        object_id=run.id,
        to_state=status,
        comment=error,
        data={
            "kind": run.kind,
            "dry_run": run.dry_run,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "refused": run.refused,
        },
    )
    db.commit()
    return run


# --- a run that stopped -----------------------------------------------------------------


def settle_stopped(db: Session, run: ImportRun, on_its_way: bool) -> bool:
    """A run waiting or running whose job is no longer on its way (its worker was killed,
    Redis lost it) or whose command no longer runs it is failed with STOPPED (or
    COMMAND_STOPPED): its transaction never committed, nothing was written, and the
    screen offers to start it again. The caller commits. True if settled."""
    if run.status not in (WAITING, RUNNING) or on_its_way:
        return False
    if run.status == WAITING and _aware(run.created_at) > utcnow() - GRACE:
        return False  # its job is asked for once the request that made it commits
    return _fail_stopped(db, run)


def _fail_stopped(db: Session, run: ImportRun) -> bool:
    # only if it still waits or runs: a run that finished meanwhile keeps its outcome
    error = COMMAND_STOPPED if run.job_id is None else STOPPED
    settled = db.exec(
        update(ImportRun)
        .where(ImportRun.id == run.id, ImportRun.status.in_([WAITING, RUNNING]))
        .values(status=FAILED, error=error, finished_at=utcnow())
    )
    db.refresh(run)
    if settled.rowcount != 1:
        return False
    record_event(
        db,
        actor_id=None,
        action="import.stopped",
        object_type="import_run",
        object_id=run.id,
        to_state=FAILED,
    )
    return True


def stop_command_run(db: Session, run_id: int) -> None:
    """`flask import` interrupted (Ctrl-C): its run is failed at once (nothing was
    written). Commits."""
    db.rollback()
    run = db.get(ImportRun, run_id)
    if run is not None and _fail_stopped(db, run):
        db.commit()


def run_state(db: Session, run: ImportRun) -> tuple[bool, dict]:
    """(still on its way, its progress meta): its RQ job's, or its command's."""
    if run.job_id is None:
        return not command_gone(db, run), {}
    return job_state(run)


def job_state(run: ImportRun) -> tuple[bool, dict]:
    """(on its way, its progress meta) of the run's RQ job."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from app.queue import redis_connection

    if not run.job_id:
        return False, {}
    try:
        job = Job.fetch(run.job_id, connection=redis_connection(current_app.config["REDIS_URL"]))
    except NoSuchJobError:
        return False, {}
    alive = job.get_status() in {
        JobStatus.QUEUED,
        JobStatus.STARTED,
        JobStatus.SCHEDULED,
        JobStatus.DEFERRED,
    }
    return alive, job.meta or {}


def stuck_runs(db: Session, limit: int = 50) -> list[ImportRun]:
    return list(
        db.exec(
            select(ImportRun)
            .where(ImportRun.status.in_([WAITING, RUNNING]))
            .order_by(ImportRun.id)
            .limit(limit)
        ).all()
    )


# --- what the screens show --------------------------------------------------------------


def runs_statement():
    return select(ImportRun).order_by(ImportRun.created_at.desc(), ImportRun.id.desc())


def refused_lines(db: Session, run: ImportRun, limit: int = SHOWN_REFUSALS) -> list[dict]:
    """The first refused lines of the report: line number, reason, content."""
    if run.report_file_id is None:
        return []
    text = io.TextIOWrapper(
        io.BufferedReader(ChunkStream(_chunks(db, run.report_file_id))),
        encoding="utf-8-sig",
        newline="",
    )
    head = text.readline()
    delimiter = ";" if head.count(";") >= head.count(",") else ","
    rows = []
    for row in csv.reader(text, delimiter=delimiter):
        if len(rows) >= limit:
            break
        rows.append({"line": row[-2], "reason": row[-1], "content": delimiter.join(row[:-2])})
    return rows
