"""The back office: the catalogue says which certificate models qualify a trainer for each
dispositif-level (and which models INRS gives outside sessions); a trainer's qualification
obtained outside Forprev is recorded; "Personnes" searches a folded copy of each identity
(trigram index on PostgreSQL) and keeps merged and deactivated records; an import of
existing data keeps its runs.

Revision ID: 0009
Revises: 0008
"""

from contextlib import contextmanager

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# batch rebuilds on SQLite must keep AUTOINCREMENT (0004): ids are never given twice
KEEP_IDS = {"sqlite_autoincrement": True}
String = sqlmodel.sql.sqltypes.AutoString
DateTime = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("certificatemodel", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("issued_in_sessions", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "levelqualification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_level_id", sa.Integer(), nullable=False),
        sa.Column("certificate_model_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_model_id"],
            ["certificatemodel.id"],
            name=op.f("fk_levelqualification_certificate_model_id_certificatemodel"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_level_id"],
            ["schemelevel.id"],
            name=op.f("fk_levelqualification_scheme_level_id_schemelevel"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_levelqualification")),
        sa.UniqueConstraint(
            "scheme_level_id",
            "certificate_model_id",
            name=op.f("uq_levelqualification_scheme_level_id_certificate_model_id"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_levelqualification_certificate_model_id"),
        "levelqualification",
        ["certificate_model_id"],
        unique=False,
    )
    with _foreign_keys_off():
        with op.batch_alter_table("person", schema=None, table_kwargs=KEEP_IDS) as batch_op:
            batch_op.add_column(
                sa.Column("search_folded", String(), nullable=False, server_default="")
            )
            batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("deactivated_at", DateTime(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f("fk_person_merged_into_id_person"),
                "person",
                ["merged_into_id"],
                ["id"],
            )
            batch_op.create_index(
                batch_op.f("ix_person_merged_into_id"), ["merged_into_id"], unique=False
            )
            batch_op.drop_index(batch_op.f("ix_person_last_name"))
            batch_op.create_index(
                "ix_person_name_order", ["last_name", "first_name", "id"], unique=False
            )
    _fill_search_folded()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_person_search_folded",
        "person",
        ["search_folded"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_folded": "gin_trgm_ops"},
    )
    op.create_table(
        "qualification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("certificate_model_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("source", String(length=10), nullable=False),
        sa.Column("note", String(length=500), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_model_id"],
            ["certificatemodel.id"],
            name=op.f("fk_qualification_certificate_model_id_certificatemodel"),
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["storedfile.id"], name=op.f("fk_qualification_file_id_storedfile")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_qualification_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["person.id"], name=op.f("fk_qualification_recorded_by_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qualification")),
        sa.UniqueConstraint(
            "person_id",
            "certificate_model_id",
            "valid_from",
            name=op.f("uq_qualification_person_id_certificate_model_id_valid_from"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_qualification_certificate_model_id"),
        "qualification",
        ["certificate_model_id"],
        unique=False,
    )
    op.create_table(
        "importrun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", String(length=20), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("report_file_id", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("error", String(), nullable=True),
        sa.Column("job_id", String(length=64), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTime(), nullable=False),
        sa.Column("finished_at", DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["person.id"], name=op.f("fk_importrun_created_by_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["storedfile.id"], name=op.f("fk_importrun_file_id_storedfile")
        ),
        sa.ForeignKeyConstraint(
            ["report_file_id"],
            ["storedfile.id"],
            name=op.f("fk_importrun_report_file_id_storedfile"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_importrun")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_importrun_created", "importrun", ["created_at"], unique=False)
    _complete_catalogue()


# REFERENCE §2, as 0009 found it: INRS's "formateur de formateurs" models (never issued in
# a session), on each dispositif's top level
INRS_MODELS = {
    "PRAP-IBC": "Certificat de formateur de formateurs PRAP IBC",
    "PRAP-2S": "Certificat de formateur de formateurs PRAP 2S",
    "ALM": "Certificat de formateur de formateurs ALM",
    "APS-ASD": "Certificat de formateur de formateurs APS-ASD",
    "CATEC": "Certificat de formateur de formateurs CATEC",
    "ECHAF": "Certificat de formateur de formateurs échafaudage",
    "AMIANTE-SS4": "Certificat de formateur de formateurs amiante SS4",
}


def _complete_catalogue() -> None:
    """A catalogue already there (the reference seed writes it only into an empty database)
    gets INRS's models and, for each dispositif-level without any, the qualifying models
    of REFERENCE §2: the level-2 session certificates for level 1, above it SST-3's for SST
    and INRS's model for the others."""
    conn = op.get_bind()
    scheme = sa.table("scheme", sa.column("id", sa.Integer), sa.column("code", String))
    level = sa.table(
        "schemelevel",
        sa.column("id", sa.Integer),
        sa.column("scheme_id", sa.Integer),
        sa.column("level", sa.Integer),
    )
    model = sa.table(
        "certificatemodel",
        sa.column("id", sa.Integer),
        sa.column("scheme_level_id", sa.Integer),
        sa.column("name", String),
        sa.column("validity_months", sa.Integer),
        sa.column("active", sa.Boolean),
        sa.column("issued_in_sessions", sa.Boolean),
    )
    qualification = sa.table(
        "levelqualification",
        sa.column("scheme_level_id", sa.Integer),
        sa.column("certificate_model_id", sa.Integer),
    )
    rows = conn.execute(
        sa.select(scheme.c.code, level.c.id, level.c.level).join(
            level, level.c.scheme_id == scheme.c.id
        )
    ).all()
    levels = {(code, number): level_id for code, level_id, number in rows}
    for code, name in INRS_MODELS.items():
        numbers = [number for c, number in levels if c == code]
        if not numbers:
            continue
        top = levels[(code, max(numbers))]
        found = conn.execute(
            sa.select(model.c.id).where(model.c.scheme_level_id == top, model.c.name == name)
        ).first()
        if found is None:
            conn.execute(
                model.insert().values(
                    scheme_level_id=top,
                    name=name,
                    validity_months=36,
                    active=True,
                    issued_in_sessions=False,
                )
            )
    for (code, number), level_id in levels.items():
        if conn.execute(
            sa.select(qualification.c.scheme_level_id).where(
                qualification.c.scheme_level_id == level_id
            )
        ).first():
            continue
        if number == 1:
            source, only_sessions = levels.get((code, 2)), True
        elif code == "SST":
            source, only_sessions = levels.get(("SST", 3)), True
        else:
            source, only_sessions = None, False
        query = sa.select(model.c.id)
        if source is not None:
            query = query.where(model.c.scheme_level_id == source)
            if only_sessions:
                query = query.where(model.c.issued_in_sessions == sa.true())
        elif code in INRS_MODELS:
            top = levels[(code, max(n for c, n in levels if c == code))]
            query = query.where(model.c.scheme_level_id == top, model.c.name == INRS_MODELS[code])
        else:
            continue
        for (model_id,) in conn.execute(query).all():
            conn.execute(
                qualification.insert().values(
                    scheme_level_id=level_id, certificate_model_id=model_id
                )
            )


@contextmanager
def _foreign_keys_off():
    """SQLite rebuilds the person table to add a foreign key: every row pointing at a person
    would stop the DROP while foreign keys are on (as in 0004), so they are off meanwhile
    and checked after."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    context = op.get_context()
    with context.autocommit_block():
        op.execute("PRAGMA foreign_keys=OFF")
    yield
    broken = bind.execute(sa.text("PRAGMA foreign_key_check")).all()
    if broken:
        raise RuntimeError(f"Clés étrangères rompues après la reconstruction : {broken[:5]}")
    with context.autocommit_block():
        op.execute("PRAGMA foreign_keys=ON")


def _fill_search_folded() -> None:
    """The people already there become searchable, folded as every later write folds."""
    from app.models.people import person_search_text

    conn = op.get_bind()
    person = sa.table(
        "person",
        sa.column("id", sa.Integer),
        sa.column("last_name", String),
        sa.column("first_name", String),
        sa.column("email", String),
        sa.column("forprev_number", String),
        sa.column("search_folded", String),
    )
    rows = conn.execute(
        sa.select(
            person.c.id,
            person.c.last_name,
            person.c.first_name,
            person.c.email,
            person.c.forprev_number,
        )
    ).all()
    for row in rows:
        conn.execute(
            sa.update(person)
            .where(person.c.id == row.id)
            .values(
                search_folded=person_search_text(
                    row.last_name, row.first_name, row.email, row.forprev_number
                )
            )
        )


def downgrade() -> None:
    op.drop_index("ix_importrun_created", table_name="importrun")
    op.drop_table("importrun")
    op.drop_index(op.f("ix_qualification_certificate_model_id"), table_name="qualification")
    op.drop_table("qualification")
    op.drop_index("ix_person_search_folded", table_name="person")
    with (
        _foreign_keys_off(),
        op.batch_alter_table("person", schema=None, table_kwargs=KEEP_IDS) as batch_op,
    ):
        batch_op.drop_index("ix_person_name_order")
        batch_op.drop_index(batch_op.f("ix_person_merged_into_id"))
        batch_op.create_index(batch_op.f("ix_person_last_name"), ["last_name"], unique=False)
        batch_op.drop_constraint(batch_op.f("fk_person_merged_into_id_person"), type_="foreignkey")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("search_folded")
    op.drop_index(
        op.f("ix_levelqualification_certificate_model_id"), table_name="levelqualification"
    )
    op.drop_table("levelqualification")
    with op.batch_alter_table("certificatemodel", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("issued_in_sessions")
