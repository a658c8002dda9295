from flask import Blueprint, g, render_template
from flask_login import login_required
from sqlmodel import select

from app.clock import today
from app.domain.access import accreditation_scope, require
from app.domain.accreditation_status import status_on, suspensions_by_accreditation
from app.extensions import get_db
from app.models import Accreditation, Scheme, SchemeLevel
from app.pagination import paginate

bp = Blueprint("accreditations", __name__, url_prefix="/habilitations")


@bp.get("/")
@login_required
@require("accreditation.list")
def index():
    db = get_db()
    page = paginate(
        db,
        (
            select(Accreditation, Scheme.name, Scheme.code, SchemeLevel.level)
            .join(SchemeLevel, SchemeLevel.id == Accreditation.scheme_level_id)
            .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
            .where(accreditation_scope(g.active_role))
            .order_by(Accreditation.end_date.desc(), Accreditation.id)
        ),
    )
    suspensions = suspensions_by_accreditation(db, [row[0].id for row in page.items])
    day = today()
    rows = [
        (acc, name, code, level, status_on(acc, suspensions[acc.id], day))
        for acc, name, code, level in page.items
    ]
    return render_template("accreditations/index.html", page=page, rows=rows)
