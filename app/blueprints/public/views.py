"""Public pages, no login: the certificate verification reached by the QR code.

The page shows only the initials, the birth year and the validity; a wrong or made-up
code gets the same "unknown" page (codes are 32 random characters: nothing to guess)."""

from flask import Blueprint, render_template
from sqlmodel import select

from app.clock import today
from app.extensions import get_db
from app.models import Certificate, CertificateModel, Scheme, SchemeLevel

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
