from flask import Blueprint, abort, g, render_template
from flask_login import login_required
from sqlmodel import select

from app.domain.access import organization_scope, require
from app.extensions import get_db
from app.models import Fund, Organization
from app.models.organizations import ORGANIZATION_KIND_LABELS

bp = Blueprint("organizations", __name__, url_prefix="/entite")


@bp.get("/")
@login_required
@require("organization.view")
def mine():
    role = g.active_role
    row = (
        get_db()
        .exec(
            select(Organization, Fund.name)
            .outerjoin(Fund, Fund.id == Organization.fund_id)
            .where(Organization.id == role.organization_id, organization_scope(role))
        )
        .first()
    )
    if row is None:
        abort(404)
    organization, fund_name = row
    return render_template(
        "organizations/mine.html",
        organization=organization,
        fund_name=fund_name,
        kind_labels=ORGANIZATION_KIND_LABELS,
    )
