"""Ids are never given twice: on SQLite every table with a numeric id is rebuilt with
AUTOINCREMENT (without it SQLite hands a deleted row's id — a purged session's number —
to the next row); PostgreSQL's sequences already never go back, so nothing changes there.
A bundle counts the times its generation was taken up again after a crash, and a targeted
message notes when all its e-mails are in the outbox (the scheduler asks again until then).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bundle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resumes", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("targetedmessage", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mailed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    # the messages already sent were mailed by the job of the time
    op.execute("UPDATE targetedmessage SET mailed_at = sent_at")
    _rebuild_on_sqlite(autoincrement=True)


def downgrade() -> None:
    _rebuild_on_sqlite(autoincrement=False)
    with op.batch_alter_table("targetedmessage", schema=None) as batch_op:
        batch_op.drop_column("mailed_at")
    with op.batch_alter_table("bundle", schema=None) as batch_op:
        batch_op.drop_column("resumes")


def _rebuild_on_sqlite(autoincrement: bool) -> None:
    """SQLite cannot add AUTOINCREMENT to a table: each one is copied into a new table
    (batch mode), rows, ids, indexes and constraints included. Foreign keys are off
    meanwhile, or dropping the old table would cascade into the tables pointing at it."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    inspector = sa.inspect(bind)
    tables = [
        name
        for name in inspector.get_table_names()
        if inspector.get_pk_constraint(name)["constrained_columns"] == ["id"]
    ]
    context = op.get_context()
    with context.autocommit_block():
        op.execute("PRAGMA foreign_keys=OFF")
    for name in tables:
        with op.batch_alter_table(
            name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    broken = bind.execute(sa.text("PRAGMA foreign_key_check")).all()
    if broken:
        raise RuntimeError(f"Clés étrangères rompues après la reconstruction : {broken[:5]}")
    with context.autocommit_block():
        op.execute("PRAGMA foreign_keys=ON")
