"""The one upload path: a file's type comes from its content, nothing is stored when it is
refused, and a request larger than FORPREV_UPLOAD_MAX_MB is refused before it is read."""

import io

import pytest
from flask import Flask
from pypdf import PdfWriter
from sqlmodel import func, select
from werkzeug.datastructures import FileStorage

from app.domain.storage import get_storage
from app.domain.uploads import NOT_A_PDF, UploadRefused, safe_name, store_upload
from app.models import StoredFile


def real_pdf(pages: int = 1, padding: int = 0) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if padding:  # a big PDF: an attached file is kept whole, uncompressed enough
        writer.add_attachment("annexe.bin", b"\x00" * padding)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def upload(data: bytes, name: str = "attestation.pdf", content_type="application/pdf"):
    return FileStorage(io.BytesIO(data), filename=name, content_type=content_type)


def stored_count(db) -> int:
    return db.exec(select(func.count()).select_from(StoredFile)).one()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"PE\x00\x00"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (EXE, NOT_A_PDF),  # a renamed executable
        (HTML, NOT_A_PDF),
        (b"", "Ce fichier est vide."),
        (real_pdf()[:300], "Ce PDF est incomplet (le fichier a été coupé)."),
        (b"%PDF-1.7\nrien de plus\n%%EOF\n", NOT_A_PDF),  # the markers alone
        (b"%PDF-1.4\n" + b"\x00" * 5000 + b"\n%%EOF", NOT_A_PDF),
    ],
    ids=["exe", "html", "vide", "tronque", "marqueurs", "zeros"],
)
def test_a_refused_file_is_not_stored(app, db, data, message):
    before = stored_count(db)
    with app.app_context(), pytest.raises(UploadRefused) as refused:
        store_upload(db, upload(data), field="urssaf_file")
    assert refused.value.message.startswith(message)
    assert refused.value.field == "urssaf_file"
    db.rollback()
    assert stored_count(db) == before


def test_a_file_larger_than_the_setting_is_refused_unread(app, db):
    before = stored_count(db)
    with app.app_context(), pytest.raises(UploadRefused) as refused:
        store_upload(db, upload(real_pdf(padding=2048)), max_bytes=1024)
    assert "dépasse la taille autorisée (10 Mo)" in refused.value.message
    assert stored_count(db) == before


def test_a_real_pdf_is_stored_as_a_pdf_whatever_its_name(app, db):
    data = real_pdf(pages=2)
    with app.app_context():
        stored = store_upload(
            db, upload(data, name="../../Attestation été.exe", content_type="text/html")
        )
    db.commit()
    assert stored.content_type == "application/pdf"
    assert stored.name == "Attestation_ete.pdf"
    assert get_storage().read(db, stored.id) == data


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('a"b.pdf', "a_b.pdf"),
        ("C:\\Users\\x\\scan.PDF", "scan.pdf"),
        ("", "document.pdf"),
        ("....pdf", "document.pdf"),
        ("répertoire/Été 2026.pdf", "Ete_2026.pdf"),
    ],
)
def test_stored_names_fit_a_download_header(name, expected):
    assert safe_name(name, ".pdf") == expected


def test_the_size_cap_is_a_setting_read_before_the_body(app, client):
    """Werkzeug refuses by Content-Length before reading: a French page naming the limit
    (a fragment for htmx), whatever the route."""
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024 + 64 * 1024
    body = b"x" * (11 * 1024 * 1024)
    response = client.post(
        "/connexion", data=body, content_type="application/x-www-form-urlencoded"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "Fichier trop volumineux" in html
    assert "dépasse la taille autorisée (10 Mo)" in html
    assert "<html" in html
    fragment = client.post(
        "/connexion",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 413
    assert "(10 Mo)" in fragment.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)


def test_the_limit_follows_the_setting(database_url, redis_url, tmp_path, monkeypatch):
    from tests.conftest import dispose_test_app, make_test_app

    monkeypatch.setenv("FORPREV_UPLOAD_MAX_MB", "2")
    application: Flask = make_test_app(database_url, redis_url, tmp_path)
    try:
        response = application.test_client().post(
            "/connexion",
            data=b"x" * (3 * 1024 * 1024),
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 413
        assert "(2 Mo)" in response.get_data(as_text=True)
    finally:
        dispose_test_app(application)
