"""The same work done by a minimal Flask page: the floor a real page is measured against.

Used by bench/page_cost.py (in process) and bench/load.py (served by gunicorn).

1. `record` sends one request to the real app through Flask's test client and keeps what
   its database did: every statement with its bind parameters as the driver received
   them (SQLAlchemy's `before_cursor_execute` event), whether it committed, the answer's
   byte size and status.
2. `floor_app` is a minimal Flask app with one view per recorded page. The view reads the
   signed-cookie session (Flask's session, a value set by its login view), reads the form
   of a POST, runs the page's statements with their parameters through SQLAlchemy Core on
   the same engine (`exec_driver_sql`: the statements are already compiled), fetches
   every row, commits when the real page committed, and renders one Jinja template
   compiled once per page (autoescape on) that loops over the rows and is padded to the
   real page's byte size.
3. `gunicorn_app()` builds that floor app in a gunicorn worker from a file written by
   `save` (FORPREV_BENCH_FLOOR) and the database of FORPREV_DATABASE_URL, with the app's
   own engine settings.
What it leaves out, on purpose: CSRF, login and role checks beyond the cookie, security
headers, ORM objects, macros and url_for: what a page may add on top of the floor.
"""

import os
import pickle
from dataclasses import dataclass, field
from html.parser import HTMLParser

from flask import Flask, abort, request, session
from sqlalchemy import event

FLOOR_USER_KEY = "floor_person_id"
COOKIE_NAME = "forprev_session"  # the real app's, so that a cookie reader serves both

# a page shaped like a real one, its rows in a loop, padded where PAD stands; when the rows
# alone would outgrow the real page (fragments of whole ORM rows), a terser loop is used
FLOOR_PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><p>Connecté : {{ person_id }}</p>
<main>ROWS</main>
<p>PAD</p></body></html>"""
ROW_LOOPS = [
    "{% for rows in results %}<table>\n{% for row in rows %}<tr>{% for value in row %}"
    "<td>{{ value }}</td>{% endfor %}</tr>\n{% endfor %}</table>{% endfor %}",
    "{% for rows in results %}{% for row in rows %}{% for value in row %}{{ value }} "
    "{% endfor %}\n{% endfor %}{% endfor %}",
    "{% for rows in results %}{% for row in rows %}{% for value in row %}"
    "{{ (value ~ '')[:12] }} {% endfor %}\n{% endfor %}{% endfor %}",
]


@dataclass
class Work:
    """What one real page did: its statements, rows' origin and answer size."""

    name: str
    statements: list[tuple[str, object, bool]] = field(default_factory=list)
    commits: int = 0
    status: int = 0
    size: int = 0
    person_id: int = 0
    method: str = "GET"


class Recorder:
    """Every statement the engine sends while it is on, with its parameters."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[tuple[str, object, bool]] = []
        self.commits = 0

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((statement, parameters, executemany))

    def _commit(self, conn):
        self.commits += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)


class StatementCounter:
    """Statements per request, counted while it is installed."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def _hit(self, *args):
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._hit)


def record(engine, client, name: str, person_id: int, method: str, path: str, **kwargs) -> Work:
    """One request to the real app, and what its database did."""
    with Recorder(engine) as recorder:
        response = client.open(path, method=method, **kwargs)
    return Work(
        name=name,
        statements=recorder.statements,
        commits=recorder.commits,
        status=response.status_code,
        size=len(response.get_data()),
        person_id=person_id,
        method=method,
    )


def _run(conn, work: Work, commit: bool = True) -> list[list]:
    results = []
    for statement, parameters, executemany in work.statements:
        result = conn.exec_driver_sql(statement, list(parameters) if executemany else parameters)
        results.append(result.all() if result.returns_rows else [])
    if work.commits and commit:
        conn.commit()
    return results


def floor_app(engine, works: dict[str, Work], secret_key: str = "floor") -> Flask:
    """A minimal Flask app: GET/POST /<name> does `works[name]`'s work; GET
    /connexion/<person_id> sets the signed-cookie session the views read."""
    app = Flask("floor")
    app.config.update(SECRET_KEY=secret_key, SESSION_COOKIE_NAME=COOKIE_NAME)
    templates = {}
    # each page's template compiled once, padded once to the real page's byte size
    with engine.connect() as conn, app.app_context():
        for name, work in works.items():
            results = _run(conn, work, commit=False)
            conn.rollback()
            for loop in ROW_LOOPS:
                source = FLOOR_PAGE.replace("ROWS", loop)
                bare = app.jinja_env.from_string(source.replace("PAD", ""))
                html = bare.render(title=name, person_id=work.person_id, results=results)
                size = len(html.encode())
                if size <= work.size:
                    break
            padding = "x" * max(0, work.size - size)
            templates[name] = app.jinja_env.from_string(source.replace("PAD", padding))

    @app.get("/connexion/<int:person_id>")
    def log_in(person_id: int):
        session[FLOOR_USER_KEY] = person_id
        return "connecté"

    @app.route("/<name>", methods=["GET", "POST"])
    def page(name: str):
        person_id = session.get(FLOOR_USER_KEY)
        work = works.get(name)
        if person_id is None or work is None:
            abort(403)
        if request.method == "POST":
            request.form  # noqa: B018 — the body is read, as the real page reads its form
        with engine.connect() as conn:
            results = _run(conn, work)
        return templates[name].render(title=name, person_id=person_id, results=results)

    app.extensions["floor_templates"] = templates
    return app


def save(works: dict[str, Work], path) -> None:
    with open(path, "wb") as f:
        pickle.dump(works, f)


def gunicorn_app():
    """The floor app in a gunicorn worker: the works of FORPREV_BENCH_FLOOR, the database of
    FORPREV_DATABASE_URL through the app's engine settings, the key FORPREV_SECRET_KEY."""
    from app.extensions import make_engine

    with open(os.environ["FORPREV_BENCH_FLOOR"], "rb") as f:
        works = pickle.load(f)  # noqa: S301 — written by this bench, in its own directory
    engine = make_engine(os.environ["FORPREV_DATABASE_URL"])
    return floor_app(engine, works, os.environ.get("FORPREV_SECRET_KEY", "floor"))


class FormFields(HTMLParser):
    """The fields a browser would send for one form of a page (the form whose attribute
    `attr` is `value`): inputs, checked boxes and radios, selected options, text areas."""

    def __init__(self, attr: str, value: str):
        super().__init__()
        self.attr, self.value = attr, value
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get(self.attr) == self.value
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "file"):
                return
            self.fields.append((name, a.get("value") or ("on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._select_value, self._select_first = name, None, None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self._select_value = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            value = self._select_value if self._select_value is not None else self._select_first
            self.fields.append((self._select, value or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data


def form_fields(page: str, attr: str, value: str) -> list[tuple[str, str]]:
    parser = FormFields(attr, value)
    parser.feed(page)
    return parser.fields
