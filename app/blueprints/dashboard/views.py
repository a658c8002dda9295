from flask import Blueprint, g, render_template
from flask_login import login_required

from app.domain.access import require
from app.domain.dashboard import build_dashboard
from app.extensions import get_db

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
@require("dashboard.view")
def index():
    board = build_dashboard(get_db(), g.active_role)
    return render_template("dashboard/index.html", board=board)
