"""Which jobs are still on their way, and which died (used by the scheduler's sweep).

A work horse killed mid-job is failed by its worker at once. A worker killed outright
leaves its job "started" with no heartbeat: RQ's cleanup of the started registry fails
it (or retries it) once the heartbeat has lapsed — about 90 s — and every worker runs
that cleanup only every 10 minutes, so the scheduler runs it on each round. What the job
was doing is then taken up again by the sweep of each kind of work (jobs.certificates,
jobs.messages, the daily jobs), from the database, never from RQ's memory alone.
"""

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

ON_THEIR_WAY = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def reap_abandoned(queue: Queue) -> None:
    """Jobs whose worker died stop counting as started (RQ's own abandoned-job handling)."""
    StartedJobRegistry(queue=queue).cleanup()


def on_its_way(queue: Queue, job_id: str | None) -> bool:
    """The job is waiting or running (a lost, failed or finished one is not)."""
    if not job_id:
        return False
    try:
        return Job.fetch(job_id, connection=queue.connection).get_status() in ON_THEIR_WAY
    except NoSuchJobError:
        return False


def jobs_on_their_way(queue: Queue, func_name: str) -> list[Job]:
    """Every job of `func_name` waiting or running: queued, being taken by a worker,
    started, scheduled or deferred."""
    ids = queue.get_job_ids() + queue.intermediate_queue.get_job_ids()
    for registry in (StartedJobRegistry, ScheduledJobRegistry, DeferredJobRegistry):
        ids += registry(queue=queue).get_job_ids(cleanup=False)
    jobs = Job.fetch_many(list(dict.fromkeys(ids)), connection=queue.connection)
    return [
        job
        for job in jobs
        if job is not None
        and job.func_name == func_name
        and job.get_status(refresh=False) in ON_THEIR_WAY
    ]


def args_on_their_way(queue: Queue, func_name: str) -> set[tuple]:
    """The arguments of the jobs of `func_name` waiting or running."""
    return {tuple(job.args) for job in jobs_on_their_way(queue, func_name)}
