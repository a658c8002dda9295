"""Pagination: exact totals, and the count statement only when the page cannot tell."""

import pytest
from sqlalchemy import event
from sqlmodel import select

from app.models import Person
from app.pagination import paginate
from tests import factories


@pytest.fixture
def people(app, db):
    for n in range(7):
        factories.person(db, last_name=f"PAGE{n}", email=f"page{n}@exemple.fr")
    db.commit()
    return select(Person).where(Person.last_name.like("PAGE%")).order_by(Person.last_name)


def _run(app, db, statement, page):
    statements = []

    def seen(conn, cursor, sql, parameters, context, executemany):
        statements.append(sql)

    engine = app.extensions["forprev_engine"]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with app.test_request_context("/"):
            result = paginate(db, statement, page=page, per_page=3)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return result, len(statements)


@pytest.mark.parametrize(
    ("page", "names", "total", "statements"),
    [
        (1, ["PAGE0", "PAGE1", "PAGE2"], 7, 2),  # a full page: the list may go on, counted
        (2, ["PAGE3", "PAGE4", "PAGE5"], 7, 2),
        (3, ["PAGE6"], 7, 1),  # the last page tells the total by itself
        (4, [], 7, 2),  # past the end: counted, to offer the way back
    ],
)
def test_totals_are_exact_and_counted_only_when_needed(
    app, db, people, page, names, total, statements
):
    result, executed = _run(app, db, people, page)
    assert [p.last_name for p in result.items] == names
    assert (result.total, result.pages) == (total, 3)
    assert executed == statements


def test_a_short_list_is_read_in_one_statement(app, db, people):
    result, executed = _run(app, db, people.where(Person.last_name <= "PAGE1"), 1)
    assert [p.last_name for p in result.items] == ["PAGE0", "PAGE1"]
    assert (result.total, result.pages, result.has_next) == (2, 1, False)
    assert executed == 1


def test_an_empty_list(app, db, people):
    result, executed = _run(app, db, people.where(Person.last_name == "NOBODY"), 1)
    assert (result.items, result.total, result.pages) == ([], 0, 1)
    assert executed == 1


def test_a_distinct_list_counts_distinct_rows(app, db, people):
    full = select(Person.last_name).where(Person.last_name.like("PAGE%")).distinct()
    result, _ = _run(app, db, full.order_by(Person.last_name), 1)
    assert (len(result.items), result.total) == (3, 7)
