"""Targeted messages at scale: each receipt carries its message's display window (a
person's messages and unread count come from their receipts alone), and the messages'
list is indexed newest first, national or per caisse.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messagereceipt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("display_from", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("display_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    op.execute(
        "UPDATE messagereceipt SET "
        "display_from = (SELECT m.display_from FROM targetedmessage m "
        "WHERE m.id = messagereceipt.message_id), "
        "display_until = (SELECT m.display_until FROM targetedmessage m "
        "WHERE m.id = messagereceipt.message_id)"
    )
    with op.batch_alter_table("messagereceipt", schema=None) as batch_op:
        batch_op.alter_column(
            "display_from", existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False
        )
        batch_op.drop_index("ix_messagereceipt_person_id")
        batch_op.create_index(
            "ix_messagereceipt_person_read_display",
            ["person_id", "read_at", "display_from"],
            unique=False,
        )
    with op.batch_alter_table("targetedmessage", schema=None) as batch_op:
        batch_op.drop_index("ix_targetedmessage_fund_id")
        batch_op.create_index("ix_targetedmessage_created", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_targetedmessage_fund_created", ["fund_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("targetedmessage", schema=None) as batch_op:
        batch_op.drop_index("ix_targetedmessage_fund_created")
        batch_op.drop_index("ix_targetedmessage_created")
        batch_op.create_index("ix_targetedmessage_fund_id", ["fund_id"], unique=False)
    with op.batch_alter_table("messagereceipt", schema=None) as batch_op:
        batch_op.drop_index("ix_messagereceipt_person_read_display")
        batch_op.create_index("ix_messagereceipt_person_id", ["person_id"], unique=False)
        batch_op.drop_column("display_until")
        batch_op.drop_column("display_from")
