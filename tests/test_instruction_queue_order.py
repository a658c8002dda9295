"""The instruction queue's pages: each kind cut at the page's end before the merge lists the
same rows, in the same order, as sorting the whole list — across pages, with ties on the
sorted column (same date, same name, same department) between and within kinds."""

from datetime import UTC, datetime, timedelta

import pytest

from app.domain import organization_instruction as instruction
from app.domain.access import ActiveRole
from app.models import AccreditationRequest, OrganizationChange
from app.models.accreditations import RequestPhase
from app.models.organizations import OrganizationStatus
from app.models.people import Role
from app.pagination import paginate
from tests import factories
from tests.conftest import is_postgres

PER_PAGE = 4
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _role(db, role: Role, **where) -> ActiveRole:
    person = factories.person(db)
    grant = factories.grant(db, person, role, **where)
    return ActiveRole(
        grant_id=grant.id,
        person_id=person.id,
        role=role,
        organization_id=grant.organization_id,
        fund_id=grant.fund_id,
    )


@pytest.fixture
def queue(db):
    """In two caisses: entities submitted, changes waiting, accreditation requests in each
    open phase (and some the queue leaves out), many on the same instant and under the same
    name or department, so that only the kind and the id tell them apart."""
    level = factories.scheme_level(db)
    author = factories.person(db)
    for fund_code, postal in (("ALSACE-MOSELLE", "67000"), ("CRAMIF", "75001")):
        fund = factories.fund(db, fund_code)
        for i in range(9):
            at = START + timedelta(hours=i % 3)  # three instants shared by every kind
            postal_code = postal if i % 2 else "57000"
            name = f"ENTITÉ {'AB'[i % 2]}"
            entity = factories.organization(
                db,
                name=name,
                postal_code=postal_code,
                fund_code=fund_code,
                status=OrganizationStatus.SUBMITTED if i % 4 else OrganizationStatus.DRAFT,
            )
            entity.submitted_at = at
            db.add(
                OrganizationChange(
                    organization_id=entity.id,
                    requested_by_id=author.id,
                    changes={"city": "METZ"},
                    fund_id=fund.id,
                    created_at=at + timedelta(hours=(i + 1) % 2),
                )
            )
            for k, phase in enumerate(
                [*instruction.OPEN_PHASES, RequestPhase.DRAFT, RequestPhase.FAVOURABLE]
            ):
                db.add(
                    AccreditationRequest(
                        organization_id=entity.id,
                        scheme_level_id=level.id,
                        fund_id=fund.id,
                        phase=phase,
                        created_by_id=author.id,
                        submitted_at=at + timedelta(hours=k % 2),
                    )
                )
        # a request without its dispositif-level is not listed (nor counted)
        db.add(
            AccreditationRequest(
                organization_id=entity.id,
                fund_id=fund.id,
                phase=RequestPhase.PHASE_1,
                created_by_id=author.id,
                submitted_at=START,
            )
        )
    db.flush()
    admin = _role(db, Role.ADMINISTRATEUR)
    instructor = _role(db, Role.INSTRUCTEUR, fund_=factories.fund(db, "ALSACE-MOSELLE"))
    db.commit()
    return admin, instructor


def _expected(db, role, filters) -> list[tuple]:
    """The whole list sorted in Python: column, then kind, then id (ascending or not on the
    column only), from the rows the unsorted statement gives."""
    rows = db.exec(instruction.queue_statement(role, filters).order_by(None)).all()
    column = {"date": "at", "raison_sociale": "name", "departement": "department"}[filters.sort]

    def key(row):
        return getattr(row, column)

    rows = sorted(rows, key=lambda row: (row.kind, row.item_id))
    rows = sorted(rows, key=key, reverse=filters.direction == "desc")
    return [(row.kind, row.item_id) for row in rows]


@pytest.mark.parametrize("sort", instruction.SORTS)
@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("kind", [None, "habilitation", "modification"])
def test_every_page_lists_the_rows_of_the_whole_sorted_list(app, db, queue, sort, direction, kind):
    args = {"tri": sort, "ordre": direction, **({"type": kind} if kind else {})}
    filters = instruction.QueueFilters.parse(args)
    for role in queue:
        expected = _expected(db, role, filters)
        assert len(expected) > 2 * PER_PAGE, len(expected)
        listed, number = [], 1
        with app.test_request_context():
            while True:
                page = paginate(
                    db,
                    instruction.queue_count_statement(role, filters),
                    page=number,
                    per_page=PER_PAGE,
                    rows=lambda page, per_page, role=role: instruction.queue_statement(
                        role, filters, page * per_page
                    ),
                )
                assert page.page == number
                # a full page before the last: the total is the count's
                assert page.total == len(expected)
                listed += [(row.kind, row.item_id) for row in page.items]
                if not page.has_next:
                    break
                number += 1
        assert page.total == len(expected)
        assert listed == expected, (role.role, sort, direction)


@pytest.mark.skipif(not is_postgres(), reason="the plans of PostgreSQL's indexes")
@pytest.mark.parametrize("instructor", [False, True])
def test_a_page_by_date_reads_the_requests_from_the_index_in_order(db, queue, instructor):
    """Sorted by date, the accreditation requests of page 1 come from the (caisse,
    submission, id) or (submission, id) index, in order: no sort of every request."""
    role = queue[1] if instructor else queue[0]
    filters = instruction.QueueFilters.parse({"type": "habilitation"})
    statement = instruction.queue_statement(role, filters, PER_PAGE).limit(PER_PAGE)
    connection = db.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    # a few rows are cheaper to sort than to read in order: sorts are priced out (for this
    # transaction), so the plan is the one the index allows, as at national size
    connection.exec_driver_sql("SET LOCAL enable_sort = off")
    compiled = statement.compile(
        dialect=db.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    plan = [
        line for (line,) in connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
    ]
    index = (
        "ix_accreditationrequest_fund_submitted"
        if instructor
        else "ix_accreditationrequest_submitted"
    )
    assert any(f"Index Scan using {index} on accreditationrequest" in line for line in plan), plan


@pytest.mark.skipif(not is_postgres(), reason="the plans of PostgreSQL's indexes")
def test_a_page_of_every_caisses_changes_reads_them_from_the_index_in_order(db, queue):
    """The administrator's changes by date come from the (state, creation, id) index."""
    filters = instruction.QueueFilters.parse({"type": "modification"})
    statement = instruction.queue_statement(queue[0], filters, PER_PAGE).limit(PER_PAGE)
    connection = db.connection()
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        connection.exec_driver_sql(f"SET LOCAL {setting} = off")
    compiled = statement.compile(
        dialect=db.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    plan = [
        line for (line,) in connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
    ]
    index = "ix_organizationchange_status_created"
    assert any(f"Index Scan using {index} on organizationchange" in line for line in plan), plan
