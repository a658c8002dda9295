"""Help and support: a FAQ entry keeps its normalised text for the search (the same on
SQLite and PostgreSQL), each role has its manual, a contact request gets a reference, a
state, the support's answer and when it was answered or closed, and is indexed by date
for the 1-year purge.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# batch rebuilds on SQLite must keep AUTOINCREMENT (0004): ids are never given twice
KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "manual",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["person.id"],
            name=op.f("fk_manual_updated_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual")),
        sa.UniqueConstraint("role", name=op.f("uq_manual_role")),
        **KEEP_IDS,
    )
    with op.batch_alter_table("faqentry", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _fill_search_text()
    with op.batch_alter_table("contactrequest", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "status",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="ouverte",
            )
        )
        batch_op.add_column(sa.Column("answer", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("answered_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.create_unique_constraint(batch_op.f("uq_contactrequest_reference"), ["reference"])
        batch_op.create_foreign_key(
            batch_op.f("fk_contactrequest_answered_by_id_person"),
            "person",
            ["answered_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            batch_op.f("ix_contactrequest_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            "ix_contactrequest_status_created", ["status", "created_at"], unique=False
        )


def _fill_search_text() -> None:
    """The questions already there become searchable: their normalised text, as every
    later save writes it."""
    from app.domain.help_content import search_text_of

    conn = op.get_bind()
    faq = sa.table(
        "faqentry",
        sa.column("id", sa.Integer),
        sa.column("question", sa.String),
        sa.column("answer", sa.Text),
        sa.column("search_text", sa.Text),
    )
    for row in conn.execute(sa.select(faq.c.id, faq.c.question, faq.c.answer)).all():
        conn.execute(
            faq.update()
            .where(faq.c.id == row.id)
            .values(search_text=search_text_of(row.question, row.answer))
        )


def downgrade() -> None:
    with op.batch_alter_table("contactrequest", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_index("ix_contactrequest_status_created")
        batch_op.drop_index(batch_op.f("ix_contactrequest_created_at"))
        batch_op.drop_constraint(
            batch_op.f("fk_contactrequest_answered_by_id_person"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_contactrequest_reference"), type_="unique")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("answered_by_id")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("answer")
        batch_op.drop_column("status")
        batch_op.drop_column("reference")
    with op.batch_alter_table("faqentry", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("search_text")
    op.drop_table("manual")
