"""Static files served compressed, under names that carry their content's hash, cached
by browsers for a year.

Once per process, at create_app, every file under app/static (the fonts aside: the PDF
code reads them from disk and no page links to them) is hashed, and a build directory
holds, for each file, its plain name (css/forprev.css) and its hashed name
(css/forprev.0123456789ab.css), each with the .br and .gz siblings WhiteNoise's
Compressor writes when they are worth it. WhiteNoise serves that directory under
/static/, choosing the sibling the browser's Accept-Encoding allows. `url_for('static',
filename=...)` gives the hashed name, so templates keep their calls: a hashed name is
answered `public, max-age=31536000, immutable` (its content can never change: a new
content is a new name), a plain name (asked for by a page cached before a change) a
short cache. Every answer carries the security headers of app/web.py.

The build directory is <instance>/static-build/<key>, the key a hash of every file's
path and content hash (and of BUILD_FORMAT). It depends only on the code: several web
machines build the same names, so a page from one machine finds its files on any other.
The instance directory (FORPREV_INSTANCE_DIR) is where this machine's files already go
(the SQLite database, the mailbox, the embedded Redis's socket), unlike the installed
package that may be read-only; the web process must be able to write there. It is per
machine, so no machine waits on a shared disk, and what it holds is only a cache of the
code: deleting it costs one build. A build with the same
key is reused as it is: the second process and every test app only hash the files
(about 80 KB) and scan the directory. A build is written under a temporary name and
renamed into place, so gunicorn's workers starting together never serve a half-written
one: the first rename wins, the others drop their copy. Builds of older code are left
for whoever clears the instance (each is about 260 KB); a process still running older
code keeps serving its own.

In development (bin/run) nothing is built: Flask serves app/static as before, revalidated
on each page, so an edited stylesheet shows on the next reload without a restart.
"""

import hashlib
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from wsgiref.headers import Headers

from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

BUILD_FORMAT = "1"  # changes the key of every build: bump it when the layout below changes
NOT_BUILT = ("fonts/",)  # read from disk by the PDF code, linked from no page
HASH_LENGTH = 12  # hex digits of the content's SHA-256 in a hashed name
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = 60  # seconds a plain name may be used without asking again


@dataclass(frozen=True)
class StaticBuild:
    directory: Path
    names: dict[str, str]  # plain name -> hashed name, both relative to the static folder
    digests: dict[str, str]  # plain name -> SHA-256 of its content

    @property
    def hashed(self) -> frozenset[str]:
        return frozenset(self.names.values())


def hashed_name(name: str, digest: str) -> str:
    """css/forprev.css -> css/forprev.<12 hex digits>.css; a name without a suffix gets
    the hash at its end."""
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.{digest[:HASH_LENGTH]}{path.suffix}"))


def _sources(source: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(source.rglob("*")):
        name = path.relative_to(source).as_posix()
        if path.is_file() and not name.startswith(NOT_BUILT) and not path.name.startswith("."):
            files[name] = path.read_bytes()
    return files


def build(source: Path, root: Path) -> StaticBuild:
    """The build of `source` under `root`: made if no build has its key, else reused."""
    contents = _sources(source)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    key = hashlib.sha256(
        "\n".join([BUILD_FORMAT, *(f"{n}\0{d}" for n, d in digests.items())]).encode()
    ).hexdigest()[:16]
    names = {name: hashed_name(name, digest) for name, digest in digests.items()}
    directory = root / key
    if not directory.is_dir():
        _write(directory, contents, names)
    return StaticBuild(directory=directory, names=names, digests=digests)


def _write(directory: Path, contents: dict[str, bytes], names: dict[str, str]) -> None:
    directory.parent.mkdir(parents=True, exist_ok=True)
    partial = directory.parent / f".{directory.name}.{os.getpid()}.{secrets.token_hex(4)}"
    compressor = Compressor(quiet=True)
    try:
        for name, data in contents.items():
            hashed, plain = partial / names[name], partial / name
            hashed.parent.mkdir(parents=True, exist_ok=True)
            hashed.write_bytes(data)
            plain.write_bytes(data)
            if compressor.should_compress(name):
                for written in compressor.compress(str(hashed)):
                    shutil.copyfile(written, str(plain) + written[-3:])
        partial.rename(directory)
    except OSError:
        if not directory.is_dir():  # not another process's build renamed in first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


class StaticFiles(WhiteNoise):
    """WhiteNoise, with the security headers also on the answers it builds without the
    file's headers (304 Not Modified, 405 for a method other than GET or HEAD, 416)."""

    def __init__(
        self, application, static: StaticBuild, prefix: str, security_headers: dict[str, str]
    ):
        self.static, self.security_headers = static, security_headers
        prefix = prefix.rstrip("/") + "/"
        urls = {prefix + name for name in static.hashed}
        etags = {prefix + name: digest for name, digest in static.digests.items()}
        etags |= {prefix + static.names[name]: d for name, d in static.digests.items()}

        def headers(headers: Headers, _path: str, url: str) -> None:
            if url in urls:
                headers["Cache-Control"] = IMMUTABLE
            # the content's hash: the same on every machine, unlike WhiteNoise's default
            # made of the file's date, which is the build's
            if url in etags:
                headers["ETag"] = f'"{etags[url][:32]}"'
            for name, value in security_headers.items():
                headers[name] = value

        super().__init__(
            application,
            root=static.directory,
            prefix=prefix,
            max_age=SHORT,
            allow_all_origins=False,
            add_headers_function=headers,
        )

    def serve(self, static_file, environ, start_response):
        def with_headers(status, headers, exc_info=None):
            if not status.startswith(("200 ", "206 ")):  # those have the file's headers
                present = {name.lower() for name, _ in headers}
                headers = headers + [
                    (name, value)
                    for name, value in self.security_headers.items()
                    if name.lower() not in present
                ]
            return start_response(status, headers, exc_info)

        return WhiteNoise.serve(static_file, environ, with_headers)


def init_app(app) -> None:
    if app.config["ENV"] == "development":
        return
    from app.web import security_headers

    static = build(Path(app.static_folder), Path(app.instance_path) / "static-build")
    app.extensions["forprev_static"] = static
    app.wsgi_app = StaticFiles(app.wsgi_app, static, app.static_url_path, security_headers(app))

    @app.url_defaults
    def _hashed_name(endpoint, values):
        # a name the build does not know (a font, a typo) keeps its plain URL
        if endpoint == "static" and values.get("filename") in static.names:
            values["filename"] = static.names[values["filename"]]
