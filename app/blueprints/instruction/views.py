from flask import Blueprint, g, render_template
from flask_login import login_required
from sqlmodel import select

from app.domain.access import require
from app.domain.dashboard import OPEN_PHASES
from app.extensions import get_db
from app.models import AccreditationRequest, Organization, Scheme, SchemeLevel
from app.models.accreditations import REQUEST_PHASE_LABELS
from app.pagination import paginate

bp = Blueprint("instruction", __name__, url_prefix="/instruction")


@bp.get("/demandes")
@login_required
@require("request.instruct")
def requests():
    page = paginate(
        get_db(),
        (
            select(AccreditationRequest, Organization.name, Scheme.code, SchemeLevel.level)
            .join(Organization, Organization.id == AccreditationRequest.organization_id)
            .join(SchemeLevel, SchemeLevel.id == AccreditationRequest.scheme_level_id)
            .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
            .where(
                AccreditationRequest.fund_id == g.active_role.fund_id,
                AccreditationRequest.phase.in_(OPEN_PHASES),
            )
            .order_by(AccreditationRequest.submitted_at, AccreditationRequest.id)
        ),
    )
    return render_template(
        "instruction/requests.html", page=page, phase_labels=REQUEST_PHASE_LABELS
    )
