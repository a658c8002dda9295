"""What a caisse's statistics read on PostgreSQL: its departments' counters among all
entities' (organization 0), from the (organization, department, month, year) index alone,
not every counter of every department."""

import pytest
from sqlmodel import select

from app.domain import statistics as stats
from app.domain.access import ActiveRole
from app.models import Department, StatCounter
from app.models.people import Role
from tests import factories
from tests.conftest import is_postgres


@pytest.mark.skipif(not is_postgres(), reason="the plans of PostgreSQL's indexes")
def test_a_caisse_reads_its_departments_counters_from_the_index_alone(db):
    fund = factories.fund(db, "ALSACE-MOSELLE")
    own = set(db.exec(select(Department.code).where(Department.fund_id == fund.id)).all())
    departments = db.exec(select(Department.code).order_by(Department.code)).all()
    for i, department in enumerate(departments):
        for year in (2024, 2025):
            for month in (0, 3, 6):
                db.add(
                    StatCounter(
                        year=year,
                        month=month,
                        department_code=department,
                        scheme_code="SST",
                        level=1,
                        organization_id=0,
                        successes=10 + i,
                        failures=i % 3,
                        sessions=1,
                    )
                )
    instructor = factories.person(db)
    grant = factories.grant(db, instructor, Role.INSTRUCTEUR, fund_=fund)
    db.commit()
    connection = db.connection()
    role = ActiveRole(
        grant_id=grant.id, person_id=instructor.id, role=Role.INSTRUCTEUR, fund_id=fund.id
    )
    where = [*stats._where(role, stats.StatFilters()), StatCounter.month > 0]
    statement = stats.grouped_statement(where, StatCounter.year, StatCounter.month)
    connection.exec_driver_sql("ANALYZE statcounter, department")  # as autovacuum would
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    compiled = statement.compile(
        dialect=db.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    plan = [
        line
        for (line,) in connection.exec_driver_sql(
            "EXPLAIN ANALYZE " + str(compiled), compiled.params
        )
    ]
    scans = [line for line in plan if "on statcounter" in line]
    assert scans and all(
        "Index Only Scan using ix_statcounter_org_department" in s for s in scans
    ), plan
    # the rows read are its departments' only (4 months' rows each: 2 years × 2 months)
    read = sum(
        int(line.split("rows=")[2].split()[0]) * int(line.split("loops=")[-1].rstrip(")"))
        for line in scans
    )
    assert read == 4 * len(own)
    # the sums are its departments' (every month of both years counted once)
    rows = db.exec(statement).all()
    assert [(year, month) for year, month, *_ in rows] == [
        (y, m) for y in (2024, 2025) for m in (3, 6)
    ]
    indexes = [i for i, code in enumerate(departments) if code in own]
    assert all(row[2] == sum(10 + i for i in indexes) for row in rows), rows
