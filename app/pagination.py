"""Paginated lists: one page query, and one count query unless the page is the last one,
whatever the table size. A page number past the end shows the last page, what is no page
number the first (Django's Paginator.get_page does the same)."""

import weakref
from dataclasses import dataclass

from flask import current_app, request
from sqlalchemy import bindparam, func, literal
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from app.extensions import connection_of
from app.ids import LARGEST, parse_page

COUNT_CAP = 1000


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int
    capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        if self.capped:
            return len(self.items) == self.per_page
        return self.page < self.pages


def requested_page() -> int:
    return parse_page(request.args.get("page"))


def paginate(
    db: Session, statement, page: int | None = None, per_page: int | None = None, rows=None
) -> Page:
    """`rows`, when given: a function (page, per_page) giving the statement that reads that
    page's rows (e.g. a merge of parts each cut at the page's end); `statement` is then
    only counted."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    # no list is longer than the ids an INTEGER column holds: the offset stays within them
    page = min(page or requested_page(), LARGEST // per_page + 1)
    rows = rows or (lambda page, per_page: statement)
    items = _rows(db, rows(page, per_page), page, per_page)
    if 0 < len(items) < per_page or (page == 1 and not items):
        # the last page: the rows before it and on it are the whole list, no count needed
        total = (page - 1) * per_page + len(items)
        return Page(items=items, page=page, per_page=per_page, total=total)
    # counting stops past COUNT_CAP rows: a list of 100 000 sessions costs what one of
    # 1 000 does, and "plus de 1 000" is all a person needs to know
    total = _count(db, statement, COUNT_CAP + 1)
    capped = total > COUNT_CAP
    if not items:
        # past the end (an old link, a number typed in): the last page, whose number
        # needs the whole count when the capped one stops short of it
        if capped:
            total, capped = _count(db, statement), False
        page = max(1, -(-total // per_page))
        items = _rows(db, rows(page, per_page), page, per_page) if total else []
    elif capped:
        total = max(COUNT_CAP, (page - 1) * per_page + len(items))
    return Page(items=items, page=page, per_page=per_page, total=total, capped=capped)


def _rows(db: Session, statement, page: int, per_page: int) -> list:
    # the page's bounds are values, not part of the statement: a statement built once
    # (a list's, kept by its view) is compiled and keyed once, whatever the page
    paged = _derived(statement, "paged", lambda: statement.limit(_LIMIT).offset(_OFFSET))
    return rows_of(db, paged, {"page_limit": per_page, "page_offset": (page - 1) * per_page})


_LIMIT, _OFFSET = bindparam("page_limit"), bindparam("page_offset")


def _derived(statement, name: str, build):
    """A statement derived from `statement`, built once and kept with it (it lives as long
    as `statement` does: a list's statement kept by its view, or the request's own)."""
    attribute = f"_forprev_{name}"
    kept = statement.__dict__.get(attribute)
    # a statement made from this one by .where() & co. starts with a copy of its
    # attributes: what is kept is this statement's only if it names this statement
    if kept is not None and kept[0]() is statement:
        return kept[1]
    derived = build()
    statement.__dict__[attribute] = (weakref.ref(statement), derived)
    return derived


def rows_of(db: Session, statement, params: dict | None = None) -> list:
    """The rows of a SELECT. One naming columns only needs no ORM objects: it goes
    through the session's connection, in its transaction, which costs about half;
    one naming a mapped class through the ORM."""
    entities = _derived(statement, "entities", lambda: _names_entities(statement))
    if entities:
        return list(db.exec(statement, params=params).all())
    result = connection_of(db).execute(statement, params)
    # sqlmodel's select() of one column gives its values, as db.exec would
    return (result.scalars() if isinstance(statement, SelectOfScalar) else result).all()


def _names_entities(statement) -> bool:
    columns = getattr(statement, "column_descriptions", None)
    if columns is None:  # a UNION or a text(): through the ORM, as before
        return True
    return any(_is_entity(column["type"]) for column in columns)


def _is_entity(kind) -> bool:
    # a mapped class, or an aliased one: rows of objects, which the ORM builds
    return isinstance(kind, type) or type(kind).__name__ == "AliasedClass"


def _count(db: Session, statement, cap: int | None = None) -> int:
    """The rows of `statement`, up to `cap`."""
    counted = statement.order_by(None)
    if not (getattr(statement, "_distinct", True) or statement._group_by_clauses):
        # only the rows matter to the count: no columns, so the database can leave out
        # the joins that only fetch them (not with DISTINCT or GROUP BY: the columns
        # decide what a row is)
        counted = counted.with_only_columns(literal(1), maintain_column_froms=True)
    if cap is not None:
        counted = counted.limit(cap)
    return (
        connection_of(db).execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    )
