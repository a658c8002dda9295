"""Flask-Login glue: the logged-in person, identified by id and password version."""

from flask import session
from flask_login import UserMixin

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


def init_app(app) -> None:
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
