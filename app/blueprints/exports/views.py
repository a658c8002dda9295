"""CSV downloads (app/domain/exports.py): the entity's activity, from the session list,
and a closed session's certified trainees for the "Passeport de prévention", from its
Téléchargements tab. Another entity's export, or a session one does not see, is not
found (404)."""

from flask import Blueprint, Response, abort, current_app, g, stream_with_context
from flask_login import login_required
from sqlmodel import Session, select

from app.clock import today
from app.domain import exports
from app.domain.access import organization_scope, require
from app.domain.cert_session_flow import get_for_role
from app.extensions import get_db
from app.models import Organization
from app.models.cert_sessions import SessionState

bp = Blueprint("exports", __name__)


def _csv(name: str, header: list[str], rows_of, object_id: int) -> Response:
    """Streamed as it is read, in a db session of the stream's own, closed when it ends."""
    engine = current_app.extensions["forprev_engine"]

    def chunks():
        with Session(engine) as db:
            yield from exports.french_csv(header, rows_of(db, object_id))

    return Response(
        stream_with_context(chunks()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _own_organization(organization_id: int) -> Organization:
    found = (
        get_db()
        .exec(
            select(Organization).where(
                Organization.id == organization_id, organization_scope(g.active_role)
            )
        )
        .first()
    )
    if found is None:
        abort(404)
    return found


@bp.get("/entites/<int:organization_id>/activite.csv")
@login_required
@require("export.activity")
def activity(organization_id: int):
    organization = _own_organization(organization_id)
    name = f"activite-{organization.code or organization.id}-{today():%Y%m%d}.csv"
    return _csv(name, exports.ACTIVITY_HEADER, exports.activity_rows, organization.id)


@bp.get("/entites/<int:organization_id>/activite-par-dispositif.csv")
@login_required
@require("export.activity")
def activity_by_scheme(organization_id: int):
    organization = _own_organization(organization_id)
    name = f"activite-par-dispositif-{organization.code or organization.id}-{today():%Y%m%d}.csv"
    return _csv(name, exports.BY_SCHEME_HEADER, exports.activity_by_scheme_rows, organization.id)


@bp.get("/sessions/<int:cert_session_id>/passeport-prevention.csv")
@login_required
@require("export.passport")
def passport(cert_session_id: int):
    cert_session = get_for_role(get_db(), g.active_role, cert_session_id)
    if cert_session is None or cert_session.state != SessionState.CLOSED:
        abort(404)
    if cert_session.purge_after is None or today() >= cert_session.purge_after:
        abort(410)  # the certificates' download window has passed, as for the PDFs
    name = f"passeport-prevention-session-{cert_session.id}.csv"
    return _csv(name, exports.PASSPORT_HEADER, exports.passport_rows, cert_session.id)
