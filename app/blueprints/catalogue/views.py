from collections import defaultdict

from flask import Blueprint, render_template
from flask_login import login_required
from sqlmodel import select

from app.domain.access import require
from app.extensions import get_db
from app.models import CertificateModel, Scheme, SchemeLevel

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")


@bp.get("/")
@login_required
@require("catalogue.view")
def index():
    rows = (
        get_db()
        .exec(
            select(Scheme, SchemeLevel, CertificateModel)
            .join(SchemeLevel, SchemeLevel.scheme_id == Scheme.id)
            .outerjoin(CertificateModel, CertificateModel.scheme_level_id == SchemeLevel.id)
            .order_by(Scheme.name, SchemeLevel.level, CertificateModel.name)
        )
        .all()
    )
    # keyed by id (table models are not hashable), in the query's order
    schemes: dict[int, Scheme] = {}
    levels: dict[int, list[SchemeLevel]] = defaultdict(list)
    models: dict[int, list[CertificateModel]] = defaultdict(list)
    for scheme, level, model in rows:
        schemes.setdefault(scheme.id, scheme)
        if level not in levels[scheme.id]:
            levels[scheme.id].append(level)
        if model is not None:
            models[level.id].append(model)
    return render_template(
        "catalogue/index.html", schemes=list(schemes.values()), levels=levels, models=models
    )
