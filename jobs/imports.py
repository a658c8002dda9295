"""An import run ("Import" screen), run by an RQ worker.

The run's lines go in one transaction (app/domain/importing/runner.py): a worker killed
mid-way commits nothing, so the run is safe to start again. Its progress goes into the
job's meta (read by the polling fragment) and, where the database lets another
connection write while the import's transaction is open (PostgreSQL), into the run's row.

A run whose job died is not left "en cours": the screen that polls it, and the
scheduler's sweep (`recover_stopped`), fail it with a message saying nothing was written
and offering to start it again. A run of `flask import` has no job: it is failed only
once its command no longer runs it (runner.command_gone).
"""

from rq import Queue, get_current_job
from sqlmodel import Session

from app.domain.importing.runner import (
    RowProgress,
    command_gone,
    run_import,
    settle_stopped,
    stuck_runs,
)
from jobs import recovery
from jobs.context import job_db


class _Progress:
    """Progress to the job's meta at once, to the run's row at most once a second."""

    def __init__(self, engine, run_id: int):
        self.job = get_current_job()
        self.row = RowProgress(engine, run_id)

    def __call__(self, done: int, total: int) -> None:
        if self.job is not None:
            self.job.meta.update(done=done, total=total)
            self.job.save_meta()
        self.row(done, total)


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
    """The scheduler's sweep: runs waiting or running whose job is no longer on its way,
    or whose `flask import` no longer runs them (no RQ job: job_id None), are failed
    (nothing of them was written). Returns their ids."""
    settled = [
        run.id
        for run in stuck_runs(db)
        if settle_stopped(
            db,
            run,
            not command_gone(db, run)
            if run.job_id is None
            else recovery.on_its_way(queue, run.job_id),
        )
    ]
    db.commit()
    return settled
