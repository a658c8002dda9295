"""Certificates as PDF: a Jinja template per certificate model family, rendered by
xhtml2pdf. Images and fonts come only from our static folder (or the QR code we draw): the
link callback refuses any other path or URL, so a template can never fetch from outside.

Every PDF the app draws goes through `html_to_pdf` and includes
`certificates/_pdf_font.html` in its style: DejaVu Sans embedded, so a name in any Latin
script prints as typed (Łukasz WOŹNIAK, Ștefan, Nguyễn Thị Ánh)."""

import io
import unicodedata
from pathlib import Path

import segno
from flask import current_app, render_template
from xhtml2pdf import pisa

from app.domain.certificate_issue import CertificateView

STATIC = (Path(__file__).resolve().parent.parent / "static").resolve()


class PdfError(RuntimeError):
    pass


def verification_url(code: str) -> str:
    return f"{current_app.config['BASE_URL']}/verifier/{code}"


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").png_data_uri(scale=4, border=2)


def link_callback(uri: str, _rel: str | None = None) -> str:
    """Only our QR codes (PNG data) and files under app/static/ may be read."""
    if uri.startswith("data:image/png;base64,"):
        return uri
    if uri.startswith("/static/"):
        path = (STATIC / uri.removeprefix("/static/")).resolve()
        if path.is_relative_to(STATIC) and path.is_file():
            return str(path)
    raise PdfError(f"Ressource refusée dans un certificat : {uri[:80]}")


def layouts_for(view: CertificateView) -> list[str]:
    """The most specific layout first: the dispositif's own, then trainers' (level 2 and
    above), then the common one."""
    code = view.scheme_code.lower()
    names = [f"certificates/pdf-{code}-{view.level}.html", f"certificates/pdf-{code}.html"]
    if view.level >= 2:
        names.append("certificates/pdf-formateur.html")
    return [*names, "certificates/pdf.html"]


def certificate_html(view: CertificateView) -> str:
    url = verification_url(view.verification_code)
    return render_template(layouts_for(view), c=view, verify_url=url, qr=qr_data_uri(url))


def html_to_pdf(html: str, what: str) -> bytes:
    """The PDF of a page of ours; `what` names the document in an error. The text is
    composed first (NFC): a name typed as "e" + U+0302 + U+0303 is drawn with the font's
    own "ễ", not with two accents stacked blindly on the "e"."""
    out = io.BytesIO()
    result = pisa.CreatePDF(
        unicodedata.normalize("NFC", html),
        dest=out,
        link_callback=link_callback,
        encoding="utf-8",
    )
    if result.err:
        raise PdfError(f"{what} n'a pas pu être mis en page.")
    return out.getvalue()


def render_pdf(view: CertificateView) -> bytes:
    return html_to_pdf(certificate_html(view), f"Le certificat {view.number}")
