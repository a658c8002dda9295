"""The app and db session a job runs with, in the worker or wherever it is called."""

import os
from contextlib import contextmanager

from flask import current_app, has_app_context
from sqlmodel import Session

_app = None


def _app_for_job():
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


@contextmanager
def job_db():
    """Yield (app, db). The worker forks per job: a child drops the parent's pooled
    connections instead of sharing them."""
    app = _app_for_job()
    with app.app_context():
        engine = app.extensions["forprev_engine"]
        if getattr(engine, "_forprev_pid", None) != os.getpid():
            engine.dispose(close=False)
            engine._forprev_pid = os.getpid()
        db = Session(engine, expire_on_commit=False)
        try:
            yield app, db
        finally:
            db.rollback()
            db.close()
