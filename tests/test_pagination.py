"""Pagination: exact totals, the count statement only when the page cannot tell, and a
page number past the end answered by the last page."""

import pytest
from sqlalchemy import event
from sqlmodel import select

from app import pagination
from app.ids import LARGEST
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


@pytest.mark.parametrize("page", [4, 5000, LARGEST])
def test_a_page_past_the_end_shows_the_last_page(app, db, people, page):
    """An old link or a number typed in: the last page with its own number (the way back
    from it works), not an empty page « 4 sur 3 »; even a page whose offset no database
    integer holds."""
    result, executed = _run(app, db, people, page)
    assert [p.last_name for p in result.items] == ["PAGE6"]
    assert (result.page, result.total, result.pages) == (3, 7, 3)
    assert (result.has_prev, result.has_next) == (True, False)
    assert executed == 3  # the empty page, the count, the last page


def test_past_the_end_of_a_list_longer_than_the_cap(app, db, people, monkeypatch):
    """The capped count stops short of the last page: it is counted in full, once."""
    monkeypatch.setattr(pagination, "COUNT_CAP", 4)
    result, executed = _run(app, db, people, 40)
    assert [p.last_name for p in result.items] == ["PAGE6"]
    assert (result.page, result.total, result.capped) == (3, 7, False)
    assert executed == 4


def test_past_the_end_of_an_empty_list(app, db, people):
    result, _ = _run(app, db, people.where(Person.last_name == "NOBODY"), 9)
    assert (result.items, result.page, result.total, result.has_prev) == ([], 1, 0, False)


@pytest.mark.parametrize(
    ("query", "page"),
    [
        ("", 1),
        ("?page=2", 2),
        ("?page=abc", 1),
        ("?page=0", 1),
        ("?page=-3", 1),
        ("?page=400000000000000000", 3),
        (f"?page={2**63}", 3),
    ],
)
def test_the_page_asked_in_the_address(app, db, people, query, page):
    with app.test_request_context(f"/{query}"):
        result = paginate(db, people, per_page=3)
    assert result.page == page
