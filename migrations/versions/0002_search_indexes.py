"""Indexes for finding people by birth date (trainer check, trainees), for the
certification-session list's sorts within an entity, and one certificate per trainee
and one bundle per session.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SESSION_INDEXES = {
    "ix_certsession_org_updated": ["organization_id", "updated_at"],
    "ix_certsession_org_end": ["organization_id", "end_date"],
    "ix_certsession_org_state_end": ["organization_id", "state", "end_date"],
}


UNIQUE = {
    "certificate": ("uq_certificate_trainee", ["trainee_id"]),
    "bundle": ("uq_bundle_cert_session", ["cert_session_id"]),
}


def upgrade() -> None:
    for table, (name, columns) in UNIQUE.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=True)
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_birth_date"), ["birth_date"], unique=False)
    with op.batch_alter_table("certsession", schema=None) as batch_op:
        for name, columns in SESSION_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, (name, _columns) in UNIQUE.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("certsession", schema=None) as batch_op:
        for name in SESSION_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_birth_date"))
