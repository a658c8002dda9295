"""An import run ("Import" screen), run by an RQ worker.

The run's lines go in one transaction (app/domain/importing/runner.py): a worker killed
mid-way commits nothing, so the run is safe to start again. Its progress goes into the
job's meta (read by the polling fragment) and, where the database lets another
connection write while the import's transaction is open (PostgreSQL), into the run's row.

A run whose job died is not left "en cours": the screen that polls it, and the
scheduler's sweep (`recover_stopped`), fail it with a message saying nothing was written
and offering to start it again.
"""

import time

from rq import Queue, get_current_job
from sqlalchemy import update
from sqlmodel import Session

from app.domain.importing.runner import run_import, settle_stopped, stuck_runs
from app.models import ImportRun
from jobs import recovery
from jobs.context import job_db


class _Progress:
    """Progress to the job's meta at once, to the run's row at most once a second."""

    def __init__(self, engine, run_id: int):
        self.engine, self.run_id = engine, run_id
        self.job = get_current_job()
        # SQLite lets one connection write at a time: the import's transaction holds it
        self.to_row = engine.dialect.name != "sqlite"
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.job is not None:
            self.job.meta.update(done=done, total=total)
            self.job.save_meta()
        now = time.monotonic()
        if self.to_row and now - self._last >= 1:
            self._last = now
            with Session(self.engine) as side:
                side.exec(
                    update(ImportRun)
                    .where(ImportRun.id == self.run_id, ImportRun.status == "en_cours")
                    .values(done=done, total=total)
                )
                side.commit()


def run_import_job(run_id: int) -> dict:
    with job_db() as (app, db):
        progress = _Progress(app.extensions["forprev_engine"], run_id)
        # ImportFailed goes up: the run says why, RQ keeps the job as failed
        run = run_import(db, run_id, progress=progress)
        if run is None:
            return {"status": "ignoré"}
        return {
            "status": run.status,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "refused": run.refused,
        }


def recover_stopped(db: Session, queue: Queue) -> list[int]:
    """The scheduler's sweep: runs waiting or running whose job is no longer on its way
    are failed (nothing of them was written). Returns their ids."""
    settled = [
        run.id
        for run in stuck_runs(db)
        if settle_stopped(db, run, recovery.on_its_way(queue, run.job_id))
    ]
    db.commit()
    return settled
