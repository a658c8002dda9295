"""Public pages, no login: the certificate verification reached by the QR code, and the
list of accredited training organisations ("Organismes habilités").

The verification shows only the initials, the birth year and the validity; a wrong or
made-up code gets the same "unknown" page (codes are 32 random characters: nothing to
guess). The list shows only what each organisation chose to publish
(app/domain/public_list.py)."""

from flask import Blueprint, render_template, request
from sqlmodel import select

from app.clock import today
from app.domain import public_list
from app.extensions import get_db
from app.models import Certificate, CertificateModel, Scheme, SchemeLevel
from app.pagination import requested_page
from app.web import render_page_or_fragment

bp = Blueprint("public", __name__)


@bp.get("/verifier/<code>")
def verify(code: str):
    row = None
    if 20 <= len(code) <= 64:
        row = (
            get_db()
            .exec(
                select(Certificate, CertificateModel, SchemeLevel, Scheme)
                .join(CertificateModel, CertificateModel.id == Certificate.certificate_model_id)
                .join(SchemeLevel, SchemeLevel.id == Certificate.scheme_level_id)
                .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
                .where(Certificate.verification_code == code)
            )
            .first()
        )
    if row is None:
        return render_template("public/verify.html", found=False), 404
    certificate, model, level, scheme = row
    return render_template(
        "public/verify.html",
        found=True,
        c=certificate,
        model=model,
        level=level,
        scheme=scheme,
        valid=certificate.valid_until >= today(),
    )


@bp.get("/organismes-habilites")
def organizations():
    db = get_db()
    offered = public_list.choices(db)
    filters = public_list.parse_filters(request.args, offered)
    return render_page_or_fragment(
        "public/organizations.html",
        "public/_organizations.html",
        listing=public_list.listing(db, filters, requested_page()),
        filters=filters,
        offered=offered,
    )
