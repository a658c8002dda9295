"""Statistiques (SPEC §9): charts and tables of the anonymous counters, within the
active role's scope; each table as CSV. Thin views: the figures come from
app/domain/statistics.py."""

from flask import Blueprint, Response, abort, g, request
from flask_login import login_required

from app.domain import statistics as stats
from app.domain.access import require
from app.extensions import get_db
from app.models.people import Role
from app.web import render_page_or_fragment

bp = Blueprint("stats", __name__, url_prefix="/statistiques")


@bp.app_template_filter("stat_number")
def stat_number(value) -> str:
    return stats.number_fr(value)


def _figures() -> stats.Statistics:
    db = get_db()
    role = g.active_role
    return stats.statistics(db, role, stats.parse_filters(db, role, request.args))


@bp.get("")
@login_required
@require("statistics.view")
def index():
    db = get_db()
    role = g.active_role
    return render_page_or_fragment(
        "stats/index.html",
        "stats/_results.html",
        result=_figures(),
        scheme_codes=stats.scheme_codes(db),
        levels=stats.LEVELS,
        funds=stats.funds(db) if role.role == Role.ADMINISTRATEUR else [],
    )


@bp.get("/<slug>.csv")
@login_required
@require("statistics.view")
def figure_csv(slug: str):
    figure = _figures().figure(slug)
    if figure is None:
        abort(404)
    return Response(
        stats.figure_csv(figure),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{stats.csv_name(figure)}"',
            "Content-Type": "text/csv; charset=utf-8",
        },
    )
