"""Statistics: the anonymous counters also count sessions, per month and per entity
(sessions per month, an entity's own figures), and a session keeps when it was counted
so it is counted once — at closing, or by the certificate job or the purge for a session
closed before — never twice. Each session is counted under its entity and under all
entities together (0), which the national and regional figures read; the counts kept
until now are such totals and stay, under month 0.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# batch rebuilds on SQLite must keep AUTOINCREMENT (0004): ids are never given twice
KEEP_IDS = {"sqlite_autoincrement": True}

OLD_KEY = ["year", "department_code", "scheme_code", "level", "is_refresher"]
# every figure reads one entity's rows (or all entities', 0), of whole years (month 0) or
# of months
NEW_KEY = [
    "organization_id",
    "month",
    "year",
    "department_code",
    "scheme_code",
    "level",
    "is_refresher",
]


def _old_key_name() -> str:
    """The old unique key's name as the database holds it (PostgreSQL cut it to 63)."""
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("statcounter"):
        if constraint["column_names"] == OLD_KEY:
            return constraint["name"]
    raise RuntimeError("statcounter: clé unique introuvable")


def upgrade() -> None:
    old_key = _old_key_name()
    with op.batch_alter_table("statcounter", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("month", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("organization_id", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("sessions", sa.Integer(), nullable=False, server_default="0"))
        batch_op.drop_constraint(old_key, type_="unique")
        batch_op.create_unique_constraint("uq_statcounter_key", NEW_KEY)
    with op.batch_alter_table("statcounter", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.alter_column("month", server_default=None)
        batch_op.alter_column("organization_id", server_default=None)
        batch_op.alter_column("sessions", server_default=None)
    with op.batch_alter_table("certsession", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("counted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("certsession", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("counted_at")
    # the months and entities are merged back into the old key
    op.execute(
        "CREATE TABLE statcounter_merged AS SELECT year, department_code, scheme_code, level, "
        "is_refresher, SUM(successes) AS successes, SUM(failures) AS failures FROM statcounter "
        "GROUP BY year, department_code, scheme_code, level, is_refresher"
    )
    op.execute("DELETE FROM statcounter")
    with op.batch_alter_table("statcounter", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint("uq_statcounter_key", type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_statcounter_year_department_code_scheme_code_level_is_refresher"), OLD_KEY
        )
        batch_op.drop_column("sessions")
        batch_op.drop_column("organization_id")
        batch_op.drop_column("month")
    op.execute(
        "INSERT INTO statcounter (year, department_code, scheme_code, level, is_refresher, "
        "successes, failures) SELECT year, department_code, scheme_code, level, is_refresher, "
        "successes, failures FROM statcounter_merged"
    )
    op.execute("DROP TABLE statcounter_merged")
