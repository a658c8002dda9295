from itertools import groupby

from flask import Blueprint, render_template
from sqlmodel import select

from app.extensions import get_db
from app.models import FaqEntry

bp = Blueprint("help", __name__, url_prefix="/aide")

MODULE_LABELS = {
    "compte": "Mon compte",
    "entite": "Mon entité",
    "habilitation": "Habilitation",
    "certification": "Sessions de certification",
}


@bp.get("/")
def index():
    entries = get_db().exec(select(FaqEntry).order_by(FaqEntry.module, FaqEntry.position)).all()
    groups = [
        (MODULE_LABELS.get(module, module), list(items))
        for module, items in groupby(entries, key=lambda e: e.module)
    ]
    return render_template("help/index.html", groups=groups)
