"""Accreditation requests come alive: a request keeps a version (two people acting at
once), the instructor's "incomplet" comment and the phase the resubmitted request goes back
to, and may be drafted before its dispositif is chosen; an accreditation keeps a version
and its sequence is unique per entity and dispositif-level (two decisions at once never
share a number); the documents a request asks for are catalogue rows. The "Habilitations"
lists read one page by an index in their order (a caisse's entities from an index alone),
and their search by entity name reads a folded copy of the name kept with it (trigram
index on PostgreSQL: pg_trgm), by number a prefix index.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# batch rebuilds on SQLite must keep AUTOINCREMENT (0004): ids are never given twice
KEEP_IDS = {"sqlite_autoincrement": True}
String = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "documentrequirement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_level_id", sa.Integer(), nullable=False),
        sa.Column("kind", String(length=30), nullable=False),
        sa.Column("label", String(length=200), nullable=False),
        sa.Column("help_text", String(length=500), nullable=True),
        sa.Column("tab", String(length=20), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scheme_level_id"],
            ["schemelevel.id"],
            name=op.f("fk_documentrequirement_scheme_level_id_schemelevel"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documentrequirement")),
        sa.UniqueConstraint(
            "scheme_level_id", "kind", name=op.f("uq_documentrequirement_scheme_level_id_kind")
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("accreditation", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_accreditation_organization_id_scheme_level_id_sequence"),
            ["organization_id", "scheme_level_id", "sequence"],
        )
        batch_op.drop_index(batch_op.f("ix_accreditation_end_date"))
        batch_op.create_index("ix_accreditation_end_id", ["end_date", "id"], unique=False)
        batch_op.create_index(
            "ix_accreditation_number_prefix",
            ["number"],
            unique=False,
            postgresql_ops={"number": "varchar_pattern_ops"},
        )
    with op.batch_alter_table("organization", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("name_folded", String(), nullable=False, server_default=""))
        batch_op.drop_index(batch_op.f("ix_organization_fund_id"))
        batch_op.create_index("ix_organization_fund_id_id", ["fund_id", "id"], unique=False)
    _fill_name_folded()
    if op.get_bind().dialect.name == "postgresql":
        # trusted since PostgreSQL 13: the database's owner may create it
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_organization_name_folded",
        "organization",
        ["name_folded"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name_folded": "gin_trgm_ops"},
    )
    with op.batch_alter_table(
        "accreditationrequest", schema=None, table_kwargs=KEEP_IDS
    ) as batch_op:
        batch_op.add_column(sa.Column("return_comment", String(), nullable=True))
        batch_op.add_column(
            sa.Column("returned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("returned_from", String(length=30), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.alter_column("scheme_level_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(
            "ix_accreditationrequest_org_phase", ["organization_id", "phase"], unique=False
        )
    with op.batch_alter_table("requestdocument", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("label", String(length=200), nullable=True))
    with op.batch_alter_table("outboxemail", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("attachment_file_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outboxemail_attachment_file_id_storedfile"),
            "storedfile",
            ["attachment_file_id"],
            ["id"],
        )


def _fill_name_folded() -> None:
    """The organisations already there become searchable by name, folded as every later
    write folds it."""
    from app.text import fold

    conn = op.get_bind()
    organization = sa.table(
        "organization",
        sa.column("id", sa.Integer),
        sa.column("name", String),
        sa.column("name_folded", String),
    )
    for row in conn.execute(sa.select(organization.c.id, organization.c.name)).all():
        conn.execute(
            organization.update()
            .where(organization.c.id == row.id)
            .values(name_folded=fold(row.name))
        )


def downgrade() -> None:
    with op.batch_alter_table("outboxemail", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outboxemail_attachment_file_id_storedfile"), type_="foreignkey"
        )
        batch_op.drop_column("attachment_file_id")
    with op.batch_alter_table("requestdocument", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("label")
    with op.batch_alter_table(
        "accreditationrequest", schema=None, table_kwargs=KEEP_IDS
    ) as batch_op:
        batch_op.drop_index("ix_accreditationrequest_org_phase")
        batch_op.alter_column("scheme_level_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("version")
        batch_op.drop_column("returned_from")
        batch_op.drop_column("returned_at")
        batch_op.drop_column("return_comment")
    # pg_trgm stays: other objects of the database may use it
    op.drop_index("ix_organization_name_folded", table_name="organization")
    with op.batch_alter_table("organization", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_index("ix_organization_fund_id_id")
        batch_op.create_index(batch_op.f("ix_organization_fund_id"), ["fund_id"], unique=False)
        batch_op.drop_column("name_folded")
    with op.batch_alter_table("accreditation", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_index("ix_accreditation_number_prefix")
        batch_op.drop_index("ix_accreditation_end_id")
        batch_op.create_index(batch_op.f("ix_accreditation_end_date"), ["end_date"], unique=False)
        batch_op.drop_constraint(
            batch_op.f("uq_accreditation_organization_id_scheme_level_id_sequence"), type_="unique"
        )
        batch_op.drop_column("version")
    op.drop_table("documentrequirement")
