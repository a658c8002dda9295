"""Paginated lists: one count query and one page query, whatever the table size."""

from dataclasses import dataclass

from flask import current_app, request
from sqlalchemy import func
from sqlmodel import Session, select


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def requested_page() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


def paginate(db: Session, statement, page: int | None = None, per_page: int | None = None) -> Page:
    page = page or requested_page()
    per_page = per_page or current_app.config["PAGE_SIZE"]
    total = db.exec(select(func.count()).select_from(statement.order_by(None).subquery())).one()
    items = db.exec(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total)
