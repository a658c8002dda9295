"""Performance: "Demandes à instruire" sorted by date reads each page of accreditation
requests from an index in the queue's order (submission, then id), for one caisse and for
every caisse, and every caisse's changes (creation, then id); a caisse's statistics read its departments' counters from an index (alone on
PostgreSQL, which keeps the summed columns in it).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_accreditationrequest_fund_submitted",
        "accreditationrequest",
        ["fund_id", "submitted_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_accreditationrequest_submitted",
        "accreditationrequest",
        ["submitted_at", "id"],
        unique=False,
    )

    op.create_index(
        "ix_organizationchange_status_created",
        "organizationchange",
        ["status", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_statcounter_org_department",
        "statcounter",
        ["organization_id", "department_code", "month", "year"],
        unique=False,
        postgresql_include=[
            "scheme_code",
            "level",
            "is_refresher",
            "successes",
            "failures",
            "sessions",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_statcounter_org_department", table_name="statcounter")
    op.drop_index("ix_organizationchange_status_created", table_name="organizationchange")
    op.drop_index("ix_accreditationrequest_submitted", table_name="accreditationrequest")
    op.drop_index("ix_accreditationrequest_fund_submitted", table_name="accreditationrequest")
