"""Flask-Login glue: the logged-in person, identified by id and password version."""

from datetime import timedelta

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user

from app.clock import utcnow
from app.extensions import get_db, login_manager
from app.models import Person


class CurrentUser(UserMixin):
    def __init__(self, person: Person):
        self.person_id = person.id
        self.auth_version = person.auth_version
        self.display_name = f"{person.first_name} {person.last_name}"
        self.first_name = person.first_name
        self.onboarded = person.onboarded_at is not None

    def get_id(self) -> str:
        # a password change bumps auth_version: every other login session stops matching
        return f"{self.person_id}:{self.auth_version}"


# The last activity is written down at most once a minute, so most answers leave the
# session cookie alone (an idle login session may end up to a minute early).
SEEN_AT_STEP = 60

# reachable before the first-login choices are made
ONBOARDING_OPEN = {
    "account.onboarding",
    "account.password_rules",
    "account.terms",
    "account.confirm_email",
    "auth.logout",
    "auth.switch",
    "help.index",
    "static",
}


def start_login_session(db, person: Person) -> None:
    """A fresh login session for `person`, on their first role."""
    from app.domain.access import grants_of

    session.clear()
    session.permanent = True
    login_user(CurrentUser(person))
    now = utcnow().timestamp()
    session["login_at"] = now
    session["seen_at"] = now
    roles = grants_of(db, person.id)
    if roles:
        session["role_grant_id"] = roles[0].grant_id


def _session_expired() -> str | None:
    """Why the login session is over (too old or idle too long), or None."""
    now = utcnow().timestamp()
    login_at, seen_at = session.get("login_at"), session.get("seen_at")
    if login_at is None or seen_at is None:
        return "Votre session a expiré. Connectez-vous à nouveau."
    if now - login_at > timedelta(hours=current_app.config["SESSION_HOURS"]).total_seconds():
        return "Votre session a expiré. Connectez-vous à nouveau."
    if now - seen_at > timedelta(minutes=current_app.config["IDLE_MINUTES"]).total_seconds():
        return "Vous avez été déconnecté après une période d'inactivité. Connectez-vous à nouveau."
    return None


def guard_session():
    """Before each request: end stale login sessions, and send a person who has not made
    their first-login choices to that page before anything else."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    reason = _session_expired()
    if reason:
        logout_user()
        session.clear()
        flash(reason, "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    now = utcnow().timestamp()
    if now - session["seen_at"] >= SEEN_AT_STEP:
        session["seen_at"] = now
    if not current_user.onboarded and request.endpoint not in ONBOARDING_OPEN:
        return redirect(url_for("account.onboarding"))
    return None


def init_app(app) -> None:
    app.before_request(guard_session)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        try:
            person_id, version = (int(part) for part in user_id.split(":"))
        except ValueError:
            return None
        person = get_db().get(Person, person_id)
        if person is None or not person.active or person.auth_version != version:
            session.clear()
            return None
        return CurrentUser(person)
