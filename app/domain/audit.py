"""The audit trail: who did what, when, from which state to which."""

from sqlmodel import Session

from app.models import AuditEvent


def record_event(
    db: Session,
    *,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | None,
    from_state: str | None = None,
    to_state: str | None = None,
    comment: str | None = None,
    data: dict | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        data=data or {},
    )
    db.add(event)
    return event
