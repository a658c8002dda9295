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
    from app.domain.alerts import unread_alerts
    from app.domain.targeted_messages import messages_for

    db = get_db()
    board = build_dashboard(db, g.active_role)
    return render_template(
        "dashboard/index.html",
        board=board,
        alerts=unread_alerts(db, g.active_role.person_id),
        messages=messages_for(db, g.active_role.person_id),
    )


@bp.get("/compteurs")
@login_required
@require("dashboard.view")
def counter():
    """The menu's "À traiter" badge, refreshed by htmx."""
    from app.domain.dashboard import todo_count

    return render_template("dashboard/_counter.html", count=todo_count(get_db(), g.active_role))


@bp.post("/alertes/<int:alert_id>/lue")
@login_required
def mark_alert_read(alert_id: int):
    from flask import abort, redirect, url_for
    from flask_login import current_user

    from app.clock import utcnow
    from app.models import Alert

    db = get_db()
    alert = db.get(Alert, alert_id)
    if alert is None or alert.person_id != current_user.person_id:
        abort(404)
    alert.read_at = alert.read_at or utcnow()
    db.add(alert)
    db.commit()
    return redirect(url_for("dashboard.index") + "#alertes-titre")
