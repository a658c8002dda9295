"""Log in, log out, switch the active role."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.auth_user import CurrentUser
from app.blueprints.auth.forms import LoginForm, LogoutForm, RoleSwitchForm
from app.domain.access import grants_of, switch_role
from app.domain.authentication import LOGIN_FAILED, authenticate
from app.extensions import get_db

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
    if form.validate_on_submit():
        db = get_db()
        person = authenticate(db, form.identifier.data, form.password.data)
        if person is None:
            error = LOGIN_FAILED
        else:
            db.commit()
            session.clear()
            session.permanent = True
            login_user(CurrentUser(person))
            roles = grants_of(db, person.id)
            if roles:
                session["role_grant_id"] = roles[0].grant_id
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/deconnexion")
@login_required
def logout():
    if not LogoutForm().validate_on_submit():
        abort(400)
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/role")
@login_required
def switch():
    form = RoleSwitchForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        grant_id = int(form.grant_id.data)
    except (TypeError, ValueError):
        abort(403)
    target = switch_role(get_db(), current_user.person_id, grant_id)
    if target is None:
        abort(403)
    flash(f"Rôle actif : {target.label}.", "info")
    return redirect(url_for("dashboard.index"))
