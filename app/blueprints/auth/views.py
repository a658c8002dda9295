"""Log in, log out, switch the active role."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.auth_user import end_login_session, start_login_session
from app.blueprints.auth.forms import LoginForm, LogoutForm, RoleSwitchForm
from app.domain import throttle
from app.domain.access import switch_role
from app.domain.authentication import (
    DEACTIVATED,
    LOGIN_FAILED,
    AccountDeactivated,
    authenticate,
    login_key,
)
from app.extensions import get_db
from app.ids import parse_id

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        account, address = login_key(form.identifier.data), request.remote_addr or "-"
        try:
            throttle.check_login(account, address)
        except throttle.Throttled as exc:
            html = render_template("auth/login.html", form=form, error=exc.message)
            return html, 429, {"Retry-After": str(exc.retry_after)}
        db = get_db()
        try:
            person = authenticate(db, form.identifier.data, form.password.data)
            error = LOGIN_FAILED if person is None else None
        except AccountDeactivated:
            person, error = None, DEACTIVATED
        if person is None:
            throttle.login_failed(account, address)
        else:
            db.commit()
            start_login_session(db, person)
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.index"))
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/deconnexion")
@login_required
def logout():
    if not LogoutForm().validate_on_submit():
        abort(400)
    end_login_session()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/role")
@login_required
def switch():
    form = RoleSwitchForm()
    if not form.validate_on_submit():
        abort(400)
    grant_id = parse_id(form.grant_id.data)
    if grant_id is None:
        abort(403)
    target = switch_role(get_db(), current_user.person_id, grant_id)
    if target is None:
        abort(403)
    flash(f"Rôle actif : {target.label}.", "info")
    return redirect(url_for("dashboard.index"))
