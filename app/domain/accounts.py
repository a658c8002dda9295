"""Accounts: password links, applicant sign-up, first-login choices, "Mon compte".

Links (password, first password, account activation, e-mail change) are single use,
valid 72 hours, superseded by a newer link of the same purpose, and stored hashed.
Nothing here tells a visitor whether an account exists: the caller shows the same answer
either way, and a mail goes to the address concerned instead.
"""

import hashlib
import secrets
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import func, update
from sqlmodel import Session, select

from app.clock import today, utcnow
from app.domain.audit import record_event
from app.domain.authentication import find_person
from app.domain.errors import DomainError
from app.domain.identifiers import new_forprev_number
from app.domain.mail import queue_email
from app.domain.passwords import hash_password, password_problem, verify_password
from app.models import AccountToken, Fund, Person, RoleGrant
from app.models.people import Role

LINK_LIFETIME = timedelta(hours=72)
MIN_AGE, MAX_AGE = 16, 100


class Purpose(StrEnum):
    PASSWORD = "password"  # forgotten password, first password, account activation
    EMAIL = "email"  # confirm a new e-mail address


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_link(db: Session, person: Person, purpose: Purpose, new_email: str | None = None) -> str:
    """A new link token (returned once, stored hashed); older unused ones stop working."""
    now = utcnow()
    db.exec(
        update(AccountToken)
        .where(
            AccountToken.person_id == person.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(expires_at=now)
    )
    raw = secrets.token_urlsafe(32)
    db.add(
        AccountToken(
            person_id=person.id,
            purpose=purpose,
            token_hash=_digest(raw),
            new_email=new_email,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    db.flush()
    return raw


def valid_link(db: Session, raw: str, purpose: Purpose) -> AccountToken | None:
    if not raw or len(raw) > 100:
        return None
    token = db.exec(
        select(AccountToken).where(
            AccountToken.token_hash == _digest(raw), AccountToken.purpose == purpose
        )
    ).first()
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    return token


LINK_INVALID = (
    "Ce lien n'est plus valable : il a déjà servi, un lien plus récent a été envoyé, "
    "ou il date de plus de 72 heures."
)


# --- password -------------------------------------------------------------------------


def send_password_link(
    db: Session, person: Person, *, template: str = "password_link", context: dict | None = None
) -> str:
    """Mail a link to set the password. `template`: password_link (forgotten),
    account_created (an account made for someone else), account_activation (sign-up);
    `context`: what else the template says (why the account was created)."""
    raw = issue_link(db, person, Purpose.PASSWORD)
    queue_email(
        db,
        to=person.email,
        subject=_SUBJECTS[template],
        template=template,
        context={"person": person, "path": f"/mot-de-passe/nouveau/{raw}", **(context or {})},
        category="account",
        person_id=person.id,
    )
    return raw


_SUBJECTS = {
    "password_link": "Forprev : définir votre mot de passe",
    "account_created": "Forprev : votre compte a été créé",
    "account_activation": "Forprev : finalisez la création de votre compte",
}


def request_password_link(db: Session, identifier: str) -> None:
    """Forgotten password. Sends a link if the account exists and may log in; says
    nothing either way (the caller shows the same page)."""
    person = find_person(db, identifier)
    if person is None:
        return
    # deactivated (or merged into another record) by the back office, or inactive with a
    # password: no link, whether the account ever had a password or not
    disabled = not person.active and person.password_hash is not None
    if disabled or person.deactivated_at is not None or person.merged_into_id is not None:
        return
    send_password_link(db, person)


def set_password_with_link(db: Session, raw: str, password: str) -> Person:
    token = valid_link(db, raw, Purpose.PASSWORD)
    if token is None:
        raise DomainError(LINK_INVALID)
    problem = password_problem(password)
    if problem:
        raise DomainError(problem, field="password")
    person = db.get(Person, token.person_id)
    if person.deactivated_at is not None or person.merged_into_id is not None:
        raise DomainError(LINK_INVALID)  # a link sent before the account was deactivated
    first_time = person.password_hash is None
    _set_password(person, password)
    if first_time:
        person.active = True  # following the mailed link proves the address
    token.used_at = utcnow()
    db.add_all([person, token])
    record_event(
        db,
        actor_id=person.id,
        action="account.password_set",
        object_type="person",
        object_id=person.id,
    )
    return person


def _set_password(person: Person, password: str) -> None:
    person.password_hash = hash_password(password)
    person.auth_version += 1  # every other login session of this person ends


def change_password(db: Session, person: Person, current: str, new: str) -> None:
    if not verify_password(person.password_hash, current):
        raise DomainError("Le mot de passe actuel est incorrect.", field="current_password")
    problem = password_problem(new)
    if problem:
        raise DomainError(problem, field="password")
    _set_password(person, new)
    db.add(person)
    queue_email(
        db,
        to=person.email,
        subject="Forprev : votre mot de passe a été modifié",
        template="password_changed",
        context={"person": person},
        category="account",
        person_id=person.id,
    )
    record_event(
        db,
        actor_id=person.id,
        action="account.password_changed",
        object_type="person",
        object_id=person.id,
    )


# --- applicant sign-up ------------------------------------------------------------------


def check_birth_date(value: date | None) -> str | None:
    """French message if the birth date is not sensible, else None."""
    if value is None:
        return "Saisissez votre date de naissance."
    if value >= today():
        return "La date de naissance doit être dans le passé."
    age = today().year - value.year - ((today().month, today().day) < (value.month, value.day))
    if age < MIN_AGE or age > MAX_AGE:
        return f"Vérifiez la date de naissance : l'âge doit être entre {MIN_AGE} et {MAX_AGE} ans."
    return None


def _email_taken(db: Session, email: str, except_id: int | None = None) -> Person | None:
    query = select(Person).where(func.lower(Person.email) == email.lower())
    if except_id is not None:
        query = query.where(Person.id != except_id)
    return db.exec(query).first()


def create_applicant_account(
    db: Session, *, last_name: str, first_name: str, birth_date: date, email: str
) -> Person | None:
    """Create a 'compte demandeur', usable once the mailed link is followed.
    An address already known gets a reminder mail instead; the caller answers the same."""
    problem = check_birth_date(birth_date)
    if problem:
        raise DomainError(problem, field="birth_date")
    email = email.strip().lower()
    existing = _email_taken(db, email)
    if existing is not None:
        queue_email(
            db,
            to=existing.email,
            subject="Forprev : vous avez déjà un compte",
            template="account_exists",
            context={"person": existing},
            category="account",
            person_id=existing.id,
        )
        return None
    person = Person(
        forprev_number=new_forprev_number(db),
        email=email,
        last_name=last_name.strip().upper(),
        first_name=first_name.strip(),
        birth_date=birth_date,
        active=False,
    )
    db.add(person)
    db.flush()
    db.add(RoleGrant(person_id=person.id, role=Role.DEMANDEUR))
    send_password_link(db, person, template="account_activation")
    record_event(
        db, actor_id=None, action="account.created", object_type="person", object_id=person.id
    )
    return person


# --- first login and "Mon compte" ------------------------------------------------------


def is_trainer(db: Session, person_id: int) -> bool:
    return (
        db.exec(
            select(RoleGrant.id).where(
                RoleGrant.person_id == person_id,
                RoleGrant.role == Role.FORMATEUR,
                RoleGrant.active.is_(True),
            )
        ).first()
        is not None
    )


def save_preferences(
    db: Session,
    person: Person,
    *,
    alerts: bool,
    notifications: bool,
    messages: bool,
    fund_id: int | None,
) -> None:
    """Notification choices and, for trainers, the mandatory caisse de rattachement."""
    if is_trainer(db, person.id):
        if fund_id is None or db.get(Fund, fund_id) is None:
            raise DomainError("Choisissez votre caisse de rattachement.", field="fund_id")
        person.trainer_fund_id = fund_id
    person.notify_alerts = alerts
    person.notify_notifications = notifications
    person.notify_messages = messages
    if person.onboarded_at is None:
        person.onboarded_at = utcnow()
    db.add(person)


def request_email_change(db: Session, person: Person, new_email: str, password: str) -> None:
    if not verify_password(person.password_hash, password):
        raise DomainError("Le mot de passe actuel est incorrect.", field="current_password")
    new_email = new_email.strip().lower()
    if new_email == person.email.lower():
        raise DomainError("C'est déjà votre adresse e-mail.", field="email")
    if _email_taken(db, new_email, except_id=person.id) is not None:
        # the owner of that address learns of the attempt; the requester sees the same page
        queue_email(
            db,
            to=new_email,
            subject="Forprev : changement d'adresse e-mail",
            template="email_change_taken",
            context={},
            category="account",
        )
        return
    raw = issue_link(db, person, Purpose.EMAIL, new_email=new_email)
    queue_email(
        db,
        to=new_email,
        subject="Forprev : confirmez votre nouvelle adresse e-mail",
        template="email_change",
        context={"person": person, "path": f"/mon-compte/adresse/{raw}"},
        category="account",
        person_id=person.id,
    )


def confirm_email_change(db: Session, raw: str) -> Person:
    token = valid_link(db, raw, Purpose.EMAIL)
    if token is None:
        raise DomainError(LINK_INVALID)
    person = db.get(Person, token.person_id)
    if _email_taken(db, token.new_email, except_id=person.id) is not None:
        raise DomainError("Cette adresse est désormais utilisée par un autre compte.")
    old = person.email
    person.email = token.new_email
    token.used_at = utcnow()
    db.add_all([person, token])
    queue_email(
        db,
        to=old,
        subject="Forprev : votre adresse e-mail a été modifiée",
        template="email_changed",
        context={"person": person},
        category="account",
        person_id=person.id,
    )
    record_event(
        db,
        actor_id=person.id,
        action="account.email_changed",
        object_type="person",
        object_id=person.id,
    )
    return person


def create_admin(db: Session, *, email: str, first_name: str, last_name: str) -> tuple[Person, str]:
    """The first administrator (`flask create-admin`): returns the person and the link
    token that sets the password (also mailed)."""
    email = email.strip().lower()
    if _email_taken(db, email) is not None:
        raise DomainError("Un compte existe déjà avec cette adresse e-mail.", field="email")
    person = Person(
        forprev_number=new_forprev_number(db),
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip().upper(),
        active=False,
    )
    db.add(person)
    db.flush()
    db.add(RoleGrant(person_id=person.id, role=Role.ADMINISTRATEUR))
    raw = send_password_link(db, person, template="account_created")
    return person, raw
