"""The one way the app takes a file from a user (SPEC §4: attestation URSSAF, and every
later screen that asks for a document).

A file's type is decided by its content, never by its name or the type the browser
claims: a PDF must start like one, end like one and be read by pypdf with at least one
page. Nothing is stored unless everything is accepted. The size cap is enforced twice:
Werkzeug refuses a request larger than FORPREV_UPLOAD_MAX_MB before reading its body
(MAX_CONTENT_LENGTH, a French 413 page), and the file itself is measured here.
"""

import io
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlmodel import Session
from werkzeug.datastructures import FileStorage

from app.domain.errors import DomainError
from app.domain.storage import get_storage
from app.models import StoredFile

NOT_A_PDF = "Ce fichier n'est pas un PDF lisible. Enregistrez votre document au format PDF."


class UploadRefused(DomainError):
    """A file refused: wrong type, empty, unreadable or too large."""


def _pdf_problem(data: bytes) -> str | None:
    """Why these bytes are no readable PDF, or None."""
    if not data.startswith(b"%PDF-"):
        return NOT_A_PDF
    # a complete PDF ends with its %%EOF marker (a cut download lacks it)
    if b"%%EOF" not in data[-1024:]:
        return "Ce PDF est incomplet (le fichier a été coupé). Téléchargez-le de nouveau."
    # pypdf warns about every oddity it mends: a refusal says enough
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return "Ce PDF est protégé par un mot de passe : envoyez-le sans protection."
        pages = reader.pages
        if len(pages) < 1:
            return "Ce PDF ne contient aucune page."
        for page in pages:
            page.mediabox  # noqa: B018 — reading each page's size proves it is there
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return NOT_A_PDF
    return None


@dataclass(frozen=True)
class FileKind:
    label: str
    content_type: str
    extension: str
    problem: Callable[[bytes], str | None]


KINDS = {"pdf": FileKind("PDF", "application/pdf", ".pdf", _pdf_problem)}


def max_upload_bytes() -> int:
    return current_app.config["UPLOAD_MAX_MB"] * 1024 * 1024


def too_large_message() -> str:
    return (
        f"Le fichier dépasse la taille autorisée ({current_app.config['UPLOAD_MAX_MB']} Mo). "
        "Réduisez-le (PDF compressé, moins de pages) et réessayez."
    )


def safe_name(name: str | None, extension: str) -> str:
    """The name shown and downloaded: plain ASCII letters, digits, dots, dashes and
    underscores (it goes into a Content-Disposition header), with the kind's extension."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    base = ascii_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", base.rsplit(".", 1)[0]).strip("._")[:100]
    return f"{stem or 'document'}{extension}"


def has_file(file: FileStorage | None) -> bool:
    """A file was chosen in the form (an empty file input sends a part with no name)."""
    return file is not None and bool(file.filename)


def check_upload(
    file: FileStorage | None,
    *,
    allowed: tuple[str, ...] = ("pdf",),
    max_bytes: int | None = None,
    field: str | None = None,
) -> tuple[bytes, FileKind]:
    """The file's bytes and kind once every check passed, or UploadRefused."""
    if not has_file(file):
        raise UploadRefused("Choisissez un fichier.", field=field)
    limit = max_bytes if max_bytes is not None else max_upload_bytes()
    data = file.stream.read(limit + 1)
    if len(data) > limit:
        raise UploadRefused(too_large_message(), field=field)
    if not data:
        raise UploadRefused("Ce fichier est vide.", field=field)
    problems = []
    for name in allowed:
        problem = KINDS[name].problem(data)
        if problem is None:
            return data, KINDS[name]
        problems.append(problem)
    raise UploadRefused(problems[0], field=field)


def store_upload(
    db: Session,
    file: FileStorage | None,
    *,
    allowed: tuple[str, ...] = ("pdf",),
    max_bytes: int | None = None,
    field: str | None = None,
) -> StoredFile:
    """Check a file sent by a user and store it (in the caller's transaction)."""
    data, kind = check_upload(file, allowed=allowed, max_bytes=max_bytes, field=field)
    return store_checked(db, file.filename, data, kind)


def store_checked(db: Session, name: str | None, data: bytes, kind: FileKind) -> StoredFile:
    """Store what `check_upload` accepted (a form checks its other fields in between, and
    stores nothing when one of them is refused)."""
    storage = get_storage(current_app.config["STORAGE"])
    return storage.save(
        db, name=safe_name(name, kind.extension), content_type=kind.content_type, data=data
    )
