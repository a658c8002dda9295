"""Entity requests come alive: a request keeps a version (two people saving at once),
the instructor's comment when it is sent back to the requester and when; a change of an
entity's data names the caisse that instructs it and keeps a version too; the instructors'
queues are indexed by caisse, state and date.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# batch rebuilds on SQLite must keep AUTOINCREMENT (0004): ids are never given twice
KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("organization", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("return_comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("returned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index(
            "ix_organization_fund_status_submitted",
            ["fund_id", "status", "submitted_at"],
            unique=False,
        )
    with op.batch_alter_table("organizationchange", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("fund_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_foreign_key(
            batch_op.f("fk_organizationchange_fund_id_fund"), "fund", ["fund_id"], ["id"]
        )
        batch_op.create_index(
            "ix_organizationchange_fund_status_created",
            ["fund_id", "status", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("organizationchange", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_index("ix_organizationchange_fund_status_created")
        batch_op.drop_constraint(
            batch_op.f("fk_organizationchange_fund_id_fund"), type_="foreignkey"
        )
        batch_op.drop_column("version")
        batch_op.drop_column("fund_id")
    with op.batch_alter_table("organization", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_index("ix_organization_fund_status_submitted")
        batch_op.drop_column("version")
        batch_op.drop_column("returned_at")
        batch_op.drop_column("return_comment")
