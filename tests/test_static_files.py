"""Static files: the pages link them under names carrying their content's hash, served
compressed (brotli or gzip, as the browser allows), cached a year when hashed and briefly
under their plain names, with the pages' security headers (app/static_files.py)."""

import gzip
import hashlib
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli
import pytest
from whitenoise.compress import Compressor

from app import create_app
from app.static_files import build
from app.web import HSTS, SECURITY_HEADERS

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"
LINKED = ["favicon.svg", "css/forprev.css", "vendor/htmx/htmx-2.0.11.min.js", "js/forprev.js"]
COMPRESSED = ["css/forprev.css", "vendor/htmx/htmx-2.0.11.min.js", "js/forprev.js"]
IMMUTABLE = "public, max-age=31536000, immutable"


def _hashed(name: str) -> str:
    """The URL a page must link: the content's SHA-256, 12 hex digits, before the suffix."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    stem, dot, suffix = name.rpartition(".")
    return f"/static/{stem}.{digest}.{suffix}"


def test_the_login_page_links_every_file_by_its_hashed_name(client):
    html = client.get("/connexion").get_data(as_text=True)
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert sorted(linked) == sorted(_hashed(name) for name in LINKED)
    assert f'<link rel="stylesheet" href="{_hashed("css/forprev.css")}">' in html
    assert f'<script src="{_hashed("vendor/htmx/htmx-2.0.11.min.js")}" defer></script>' in html


def test_a_hashed_name_answers_the_source_file_uncompressed_when_not_asked(client):
    for name in LINKED:
        answer = client.get(_hashed(name), headers={"Accept-Encoding": "identity"})
        assert answer.status_code == 200, name
        assert answer.data == (STATIC / name).read_bytes(), name
        assert "Content-Encoding" not in answer.headers, name
        assert int(answer.headers["Content-Length"]) == (STATIC / name).stat().st_size


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [("gzip", "gzip", gzip.decompress), ("gzip, deflate, br, zstd", "br", brotli.decompress)],
)
def test_text_files_come_compressed_as_the_browser_allows(client, accept, encoding, decode):
    for name in COMPRESSED:
        source = (STATIC / name).read_bytes()
        answer = client.get(_hashed(name), headers={"Accept-Encoding": accept})
        assert answer.headers["Content-Encoding"] == encoding, name
        assert answer.headers["Vary"] == "Accept-Encoding", name
        assert int(answer.headers["Content-Length"]) == len(answer.data) < len(source) * 0.5
        assert decode(answer.data) == source, name
        assert answer.headers["Cache-Control"] == IMMUTABLE
        # the plain name too, for a page cached before the last change
        plain = client.get(f"/static/{name}", headers={"Accept-Encoding": accept})
        assert plain.headers["Content-Encoding"] == encoding
        assert decode(plain.data) == source


def test_hashed_names_are_immutable_for_a_year_and_plain_names_are_not(client):
    for name in LINKED:
        hashed = client.get(_hashed(name))
        assert hashed.headers["Cache-Control"] == IMMUTABLE, name
        plain = client.get(f"/static/{name}")
        assert plain.status_code == 200 and plain.data == (STATIC / name).read_bytes()
        assert plain.headers["Cache-Control"] == "max-age=60, public", name
        # the same content on every machine: the ETag is the content's hash
        digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:32]
        assert plain.headers["ETag"] == hashed.headers["ETag"] == f'"{digest}"'
        again = client.get(f"/static/{name}", headers={"If-None-Match": f'"{digest}"'})
        assert again.status_code == 304 and again.data == b""
    # a page never answers with a cache a static file may have
    assert client.get("/connexion").headers["Cache-Control"] == "no-store"


def _security(answer) -> dict[str, str | None]:
    return {
        name: answer.headers.get(name) for name in [*SECURITY_HEADERS, "Strict-Transport-Security"]
    }


def test_every_static_answer_carries_the_pages_security_headers(client):
    page = _security(client.get("/connexion"))
    assert page["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert page["Strict-Transport-Security"] is None  # not on a test server's plain http
    css = _hashed("css/forprev.css")
    etag = client.get(css).headers["ETag"]
    answers = {
        "hashed": client.get(css, headers={"Accept-Encoding": "br"}),
        "plain": client.get("/static/css/forprev.css"),
        "not modified": client.get(css, headers={"If-None-Match": etag}),
        "head": client.head(css),
        "post": client.post(css),
        "range": client.get(css, headers={"Range": "bytes=0-9"}),
        "missing": client.get("/static/css/absent.css"),
    }
    statuses = {what: answer.status_code for what, answer in answers.items()}
    assert statuses == {
        "hashed": 200,
        "plain": 200,
        "not modified": 304,
        "head": 200,
        "post": 405,
        "range": 206,
        "missing": 404,
    }
    for what, answer in answers.items():
        assert _security(answer) == page, what


def test_static_answers_carry_hsts_in_production(database_url, redis_url):
    application = create_app(
        {
            "ENV": "production",
            "TESTING": False,
            "SECRET_KEY": "x" * 32,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
    )
    client = application.test_client()
    html = client.get("/connexion").get_data(as_text=True)
    css = _hashed("css/forprev.css")
    assert css in html
    for url in (css, "/static/css/forprev.css"):
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer.headers["Strict-Transport-Security"] == HSTS
        assert _security(answer) == _security(client.get("/connexion"))
    application.extensions["forprev_engine"].dispose()


def test_a_missing_file_is_a_french_404_and_an_unknown_name_keeps_its_url(app, client):
    for url in (
        "/static/css/absent.css",
        "/static/css/forprev.000000000000.css",  # a hash no build has
        "/static/css/forprev.css.gz",  # a compressed sibling is no URL of its own
        "/static/../app/__init__.py",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert "Page introuvable" in answer.get_data(as_text=True), url
    with app.test_request_context():
        from flask import url_for

        assert url_for("static", filename="css/absent.css") == "/static/css/absent.css"
        assert url_for("static", filename="css/forprev.css") == _hashed("css/forprev.css")
    # the fonts the PDF code reads are still there under their plain names
    font = client.get("/static/fonts/DejaVuSans.ttf")
    assert font.status_code == 200
    assert font.data == (STATIC / "fonts" / "DejaVuSans.ttf").read_bytes()


def _copy_of_static(tmp_path) -> Path:
    source = tmp_path / "static"
    shutil.copytree(STATIC, source, ignore=shutil.ignore_patterns("fonts"))
    return source


def test_a_changed_file_gets_a_new_name_and_the_old_build_stays(tmp_path):
    source, root = _copy_of_static(tmp_path), tmp_path / "builds"
    first = build(source, root)
    css = source / "css" / "forprev.css"
    old = css.read_bytes()
    css.write_bytes(old + b"\n.nouveau { color: red; }\n")
    second = build(source, root)

    assert second.directory != first.directory
    assert second.names["css/forprev.css"] != first.names["css/forprev.css"]
    assert re.fullmatch(r"css/forprev\.[0-9a-f]{12}\.css", second.names["css/forprev.css"])
    unchanged = {n: h for n, h in second.names.items() if n != "css/forprev.css"}
    assert unchanged == {n: h for n, h in first.names.items() if n != "css/forprev.css"}
    assert (second.directory / second.names["css/forprev.css"]).read_bytes() == css.read_bytes()
    # a page served before the change still finds its stylesheet
    assert (first.directory / first.names["css/forprev.css"]).read_bytes() == old
    new = second.directory / second.names["css/forprev.css"]
    assert brotli.decompress(Path(f"{new}.br").read_bytes()) == css.read_bytes()
    assert gzip.decompress(Path(f"{new}.gz").read_bytes()) == css.read_bytes()
    # an image is not worth compressing; the fonts are not built
    logo = second.directory / second.names["img/logo-forprev.png"]
    assert logo.is_file() and not Path(f"{logo}.br").exists()
    assert not (second.directory / "fonts").exists()

    # the same content again: the build is reused as it is, nothing rewritten
    written = {p: p.stat().st_mtime_ns for p in second.directory.rglob("*")}
    css.write_bytes(css.read_bytes())
    assert build(source, root) == second
    assert {p: p.stat().st_mtime_ns for p in second.directory.rglob("*")} == written
    # back to the first content: the first build
    css.write_bytes(old)
    assert build(source, root).directory == first.directory


def test_an_interrupted_build_leaves_nothing_a_later_process_would_reuse(tmp_path, monkeypatch):
    source, root = _copy_of_static(tmp_path), tmp_path / "builds"
    compress = Compressor.compress

    def full_disk(self, path):
        if "htmx" in path:
            raise OSError("No space left on device")
        return compress(self, path)

    monkeypatch.setattr(Compressor, "compress", full_disk)
    with pytest.raises(OSError, match="No space left"):
        build(source, root)
    assert list(root.iterdir()) == []
    monkeypatch.setattr(Compressor, "compress", compress)
    complete = build(source, root)
    htmx = complete.directory / complete.names["vendor/htmx/htmx-2.0.11.min.js"]
    assert brotli.decompress(Path(f"{htmx}.br").read_bytes()) == htmx.read_bytes()


def test_processes_starting_together_share_one_complete_build(tmp_path):
    source, root = _copy_of_static(tmp_path), tmp_path / "builds"
    with ThreadPoolExecutor(8) as pool:
        builds = list(pool.map(lambda _: build(source, root), range(8)))
    assert len({b.directory for b in builds}) == 1
    assert [p.name for p in root.iterdir()] == [builds[0].directory.name]  # no leftover
    for name, hashed in builds[0].names.items():
        assert (builds[0].directory / hashed).read_bytes() == (source / name).read_bytes()
        assert (builds[0].directory / name).read_bytes() == (source / name).read_bytes()
