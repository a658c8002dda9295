"""Extensions shared by the app: database, login manager, CSRF protection."""

from flask import Flask, current_app, g
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

login_manager = LoginManager()
csrf = CSRFProtect()


def make_engine(url: str) -> Engine:
    """An engine with the same settings for the web app, jobs, CLI and tests."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def init_db(app: Flask) -> None:
    app.extensions["forprev_engine"] = make_engine(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def _close_db(_exc):
        db = g.pop("db", None)
        if db is not None:
            db.rollback()
            db.close()


def engine() -> Engine:
    return current_app.extensions["forprev_engine"]


def get_db() -> Session:
    """The request's unit of work: views commit once, teardown rolls back the rest."""
    if "db" not in g:
        g.db = Session(engine(), expire_on_commit=False)
    return g.db


def connection_of(db: Session):
    """The session's connection, in its transaction, for a statement that names columns
    only (no ORM objects to build: about half the cost), after the flush the ORM would
    have made first."""
    if db.new or db.dirty or db.deleted:
        db.flush()
    return db.connection()
