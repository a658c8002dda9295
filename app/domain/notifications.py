"""Tasks on the dashboard ("Notifications") and their e-mail, for people who chose it."""

from sqlalchemy import or_
from sqlmodel import Session, select, update

from app.clock import utcnow
from app.domain.mail import mail_if_opted_in
from app.models import Alert, Notification, Person, RoleGrant


def grant_for(db: Session, person_id: int, roles, organization_id: int | None = None) -> int | None:
    query = select(RoleGrant.id).where(
        RoleGrant.person_id == person_id, RoleGrant.role.in_(roles), RoleGrant.active.is_(True)
    )
    if organization_id is not None:
        query = query.where(RoleGrant.organization_id == organization_id)
    return db.exec(query.order_by(RoleGrant.id)).first()


def notify(
    db: Session,
    *,
    person_id: int,
    kind: str,
    title: str,
    link: str,
    object_type: str,
    object_id: int,
    role_grant_id: int | None = None,
) -> Notification:
    """A task for `person_id`; an e-mail too if they chose "Notifications"."""
    row = Notification(
        person_id=person_id,
        role_grant_id=role_grant_id,
        kind=kind,
        title=title,
        link=link,
        object_type=object_type,
        object_id=object_id,
    )
    db.add(row)
    mail_if_opted_in(
        db, db.get(Person, person_id), category="notification", message=title, link=link
    )
    return row


def close_tasks(db: Session, object_type: str, object_id: int) -> None:
    """The object moved on: its open tasks are done, for everyone."""
    db.exec(
        update(Notification)
        .where(
            Notification.object_type == object_type,
            Notification.object_id == object_id,
            Notification.done_at.is_(None),
        )
        .values(done_at=utcnow())
    )


def close_links_to(db: Session, path: str) -> None:
    """`path` is gone (a purged session): the open tasks and unread alerts that lead to it,
    or below it, are closed for everyone — followed, they would end on a 404."""
    now = utcnow()
    for model, open_, closed in (
        (Notification, Notification.done_at, "done_at"),
        (Alert, Alert.read_at, "read_at"),
    ):
        db.exec(
            update(model)
            .where(
                or_(model.link == path, model.link.startswith(f"{path}/", autoescape=True)),
                open_.is_(None),
            )
            .values({closed: now})
        )
