"""Flask-Login glue: the logged-in person, identified by id and password version, and
their login sessions, each known on the server.

Each login gets a random identifier, kept in the signed cookie and in Redis (so every web
process sees it) for at most FORPREV_SESSION_HOURS, in a per-person set too. Every request
checks it: logging out deletes it, a password change ends all of the person's but the
current one, so a cookie kept from before is refused. Redis unreachable: the check cannot
be made, and the request answers 503 (app.web) rather than letting the cookie through.
"""

import secrets
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import UserMixin, current_user, login_url, login_user, logout_user

from app.clock import utcnow
from app.domain.access import person_and_grants
from app.extensions import get_db, login_manager
from app.models import Person
from app.queue import redis_connection
from app.web import is_htmx


class CurrentUser(UserMixin):
    def __init__(self, person: Person, roles=None):
        self.person_id = person.id
        self.auth_version = person.auth_version
        self.display_name = f"{person.first_name} {person.last_name}"
        self.first_name = person.first_name
        self.onboarded = person.onboarded_at is not None
        # the active roles, when read with the person (this request only: a CurrentUser
        # lives as long as its request)
        self.roles = roles

    def get_id(self) -> str:
        # a password change bumps auth_version: every other login session stops matching
        return f"{self.person_id}:{self.auth_version}"


_LOGIN = "forprev:login:{}"  # a login session -> its person
_LOGINS_OF = "forprev:logins:{}"  # a person -> their login sessions, scored by expiry


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
    session["login_id"] = _open_login(person.id)
    roles = grants_of(db, person.id)
    if roles:
        session["role_grant_id"] = roles[0].grant_id


def end_login_session() -> None:
    """Log out: this login session ends on the server, and its cookie is emptied."""
    login_id = session.get("login_id")
    if login_id and current_user.is_authenticated:
        pipe = _redis().pipeline()
        pipe.delete(_LOGIN.format(login_id))
        pipe.zrem(_LOGINS_OF.format(current_user.person_id), login_id)
        pipe.execute()
    logout_user()
    session.clear()


def end_login_sessions(person_id: int) -> None:
    """Every login session of the person ends (a password set or changed, an account
    deactivated). Call after the change is committed."""
    redis = _redis()
    login_ids = redis.zrange(_LOGINS_OF.format(person_id), 0, -1)
    pipe = redis.pipeline()
    for login_id in login_ids:
        pipe.delete(_LOGIN.format(login_id.decode()))
    pipe.delete(_LOGINS_OF.format(person_id))
    pipe.execute()


def keep_only_this_login_session(person: Person) -> None:
    """After a password change: the person's other login sessions end, this one carries
    on (under a new identifier, with the new password version)."""
    end_login_sessions(person.id)
    login_user(CurrentUser(person))
    session["login_id"] = _open_login(person.id)


def _redis():
    return redis_connection(current_app.config["REDIS_URL"])


def _open_login(person_id: int) -> str:
    login_id = secrets.token_urlsafe(24)
    lifetime = int(timedelta(hours=current_app.config["SESSION_HOURS"]).total_seconds())
    expires = time.time() + lifetime  # Redis time, not the app clock: tests move that one
    pipe = _redis().pipeline()
    pipe.set(_LOGIN.format(login_id), person_id, ex=lifetime)
    pipe.zremrangebyscore(_LOGINS_OF.format(person_id), "-inf", time.time())
    pipe.zadd(_LOGINS_OF.format(person_id), {login_id: expires})
    pipe.expire(_LOGINS_OF.format(person_id), lifetime)
    pipe.execute()
    return login_id


def _login_open() -> bool:
    """Is the cookie's login session still known on the server?"""
    login_id = session.get("login_id")
    if not login_id:
        return False
    person_id = _redis().get(_LOGIN.format(login_id))
    return person_id is not None and int(person_id) == current_user.person_id


def _page_path() -> str:
    """The page the person was on: for htmx, the page's URL, not the fragment's."""
    current = request.headers.get("HX-Current-URL") if is_htmx() else None
    if current:
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.full_path.rstrip("?")


def _to_login(login_page: str):
    """To the login page: a redirect, or for htmx a 401 that has htmx load it as a
    page (a redirect would swap the whole login page into the panel)."""
    if is_htmx():
        return "", 401, {"HX-Redirect": login_page}
    return redirect(login_page)


def _unauthorized():
    """login_required without a login session."""
    flash(login_manager.login_message, login_manager.login_message_category)
    next_page = _page_path() if is_htmx() else request.url
    return _to_login(login_url(login_manager.login_view, next_url=next_page))


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
    if reason is None and not _login_open():
        reason = "Votre session a été fermée. Connectez-vous à nouveau."
    if reason:
        logout_user()
        session.clear()
        flash(reason, "info")
        return _to_login(url_for("auth.login", next=_page_path()))
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
    login_manager.unauthorized_handler(_unauthorized)

    @login_manager.user_loader
    def load_user(user_id: str):
        try:
            person_id, version = (int(part) for part in user_id.split(":"))
        except ValueError:
            return None
        person, roles = person_and_grants(get_db(), person_id)
        if (
            person is None
            or not person.active
            or person.deactivated_at is not None
            or person.auth_version != version
        ):
            session.clear()
            return None
        return CurrentUser(person, roles)
