"""Alembic environment: the schema is SQLModel's metadata; the URL comes from the app's
settings unless the caller (flask db, tests) passed one in the Alembic config."""

from alembic import context
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table)
from app.config import load_settings
from app.extensions import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or load_settings({"TESTING": True})["DATABASE_URL"]


def run_migrations_offline() -> None:
    context.configure(
        url=url, target_metadata=SQLModel.metadata, render_as_batch=True, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
