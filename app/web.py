"""What every page shares: security headers, French error pages, Jinja filters,
the left menu per role, and the page-or-fragment rendering of htmx screens."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from flask import (
    Request,
    Response,
    current_app,
    g,
    has_request_context,
    render_template,
    request,
)
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from redis.exceptions import RedisError
from sqlmodel import Session
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException

from app.clock import to_paris
from app.domain.access import can
from app.domain.storage import get_storage
from app.models.people import Role

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# production only: a development or test server on plain http must stay reachable
HSTS = "max-age=31536000; includeSubDomains"

ERROR_PAGES = {
    400: (
        "Requête invalide",
        "La demande n'a pas pu être comprise. Vérifiez votre saisie et réessayez.",
    ),
    403: (
        "Accès refusé",
        "Votre rôle actif ne permet pas d'accéder à cette page. "
        "Changez de rôle dans le menu en haut à droite si vous en avez un autre.",
    ),
    404: ("Page introuvable", "Cette page n'existe pas ou n'existe plus."),
    405: ("Action non permise", "Cette action n'est pas possible à cette adresse."),
    409: (
        "Conflit de modification",
        "Quelqu'un a modifié ces données pendant que vous les "
        "consultiez. Rechargez la page pour voir la dernière version.",
    ),
    413: (
        "Fichier trop volumineux",
        "Le fichier envoyé dépasse la taille autorisée ({max_mb} Mo). "
        "Réduisez-le (PDF compressé, moins de pages) et réessayez.",
    ),
    422: (
        "Saisie incorrecte",
        "Certaines informations saisies ne sont pas valables. Corrigez-les et réessayez.",
    ),
    429: (
        "Trop de tentatives",
        "Trop de tentatives en peu de temps. Patientez un moment et réessayez.",
    ),
    500: (
        "Erreur interne",
        "Une erreur inattendue s'est produite. Elle a été enregistrée ; "
        "réessayez dans un instant ou contactez l'assistance.",
    ),
    503: (
        "Service momentanément indisponible",
        "Réessayez dans un instant : ce qui est déjà enregistré est conservé.",
    ),
}


class _WithoutNul(ImmutableMultiDict):
    """Form fields and query arguments without NUL characters: no keyboard types one, and
    PostgreSQL refuses them in text (a NUL in a name field was an error 500)."""

    def __init__(self, mapping=None):
        if isinstance(mapping, list):
            mapping = [
                (
                    key.replace("\0", ""),
                    value.replace("\0", "") if isinstance(value, str) else value,
                )
                for key, value in mapping
            ]
        super().__init__(mapping)


class FormRequest(Request):
    parameter_storage_class = _WithoutNul


@dataclass(frozen=True)
class MenuEntry:
    label: str
    endpoint: str
    action: str


# Left menu: shown when the active role may do `action` and the screen exists.
MENU = [
    MenuEntry("Tableau de bord", "dashboard.index", "dashboard.view"),
    MenuEntry("Mes demandes en cours", "entity_requests.index", "entity_request.manage"),
    MenuEntry("Mon entité", "organizations.mine", "organization.view"),
    MenuEntry("Habilitations", "accreditations.index", "accreditation.list"),
    MenuEntry("Sessions de certification", "cert_sessions.index", "cert_session.list"),
    MenuEntry("Utilisateurs", "entity_users.index", "entity_user.manage"),
    MenuEntry("Demandes à instruire", "instruction.requests", "instruction.view"),
    MenuEntry("Catalogue des dispositifs", "catalogue.index", "catalogue.view"),
    MenuEntry("Personnes", "people.index", "person.search"),
    MenuEntry("Caisses", "funds.index", "fund.manage"),
    MenuEntry("Import", "imports.index", "import.run"),
    MenuEntry("Messages ciblés", "messages.index", "message.send"),
    MenuEntry("Statistiques", "stats.index", "statistics.view"),
    MenuEntry("Demandes d'assistance", "help.requests", "contact_request.manage"),
    MenuEntry("Mes certificats", "account.my_certificates", "certificate.mine"),
    MenuEntry("Mon compte", "account.index", "account.view"),
]
HELP_ENTRY = MenuEntry("Aide et assistance", "help.index", "help.view")


def menu_for(role, endpoints: set[str]) -> list[MenuEntry]:
    entries = [e for e in MENU if e.endpoint in endpoints and can(role, e.action)]
    return [*entries, HELP_ENTRY]


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context):
    """One view, one template pair: the fragment for htmx, the whole page otherwise."""
    template = fragment if is_htmx() else page
    return render_template(template, **context), status, {"Vary": "HX-Request"}


def send_stored_file(
    file_id: int, *, name: str, content_type: str, size: int, no_store: bool = False
) -> Response:
    """A stored file as a download, streamed chunk by chunk.

    The chunks are read in a session of the stream's own, closed when the stream ends or
    the client goes away: the request's session is already closed by then, and reopening
    it would leave a transaction (and its locks) behind."""
    storage = get_storage(current_app.config["STORAGE"])
    engine = current_app.extensions["forprev_engine"]

    def chunks():
        with Session(engine) as db:
            yield from storage.iter_chunks(db, file_id)

    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Length": str(size),
    }
    if no_store:
        headers["Cache-Control"] = "no-store"
    return Response(chunks(), mimetype=content_type, headers=headers)


def _date_fr(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_paris(value).strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _datetime_fr(value) -> str:
    if value is None:
        return ""
    return to_paris(value).strftime("%d/%m/%Y à %H:%M")


def url_builder(app, maxsize: int = 4096):
    """The templates' `url_for`: Flask's, remembered. A page builds some thirty links
    (the menu, the header, each row's), and werkzeug's builder is a fair share of a
    page's time. A link is a pure function of what it is built from: the endpoint and
    its values, the path the app is mounted on, the blueprint a relative endpoint
    (".show") is read against, and for an absolute link the host it is built for; all of
    that is the key, so two people making the same call get the same link and nothing
    else. A call with a value that cannot be a key (a list) is built as before."""
    build = app.url_for

    @lru_cache(maxsize=maxsize)
    def remembered(script_root, host, blueprint, endpoint, values):
        return build(endpoint, **{name: value for name, _kind, value in values})

    def url_for(endpoint: str, **values) -> str:
        if not has_request_context():  # a mail or a PDF drawn by a job: built each time
            return build(endpoint, **values)
        host = request.host_url if values.get("_external") else None
        blueprint = request.blueprint if endpoint.startswith(".") else None
        try:
            # each value's type too: True, 1 and 1.0 are equal keys but other links
            key = tuple(sorted((name, type(value), value) for name, value in values.items()))
            return remembered(request.script_root, host, blueprint, endpoint, key)
        except TypeError:  # unhashable
            return build(endpoint, **values)

    url_for.cache_info = remembered.cache_info
    return url_for


def security_headers(app) -> dict[str, str]:
    """The headers of every answer, pages and static files (app/static_files.py)."""
    production = app.config["ENV"] not in ("development", "test") and not app.testing

    @app.teardown_request
    def _forget_request_memo(_exc=None):
        # what one request read once (cert_session_rules.declarable_accreditations)
        # ends with it, even when an app context spans several requests (tests, shells)
        g.pop("forprev_request_memo", None)

    return SECURITY_HEADERS | ({"Strict-Transport-Security": HSTS} if production else {})


def init_app(app) -> None:
    app.request_class = FormRequest
    app.jinja_env.globals["url_for"] = url_builder(app)
    app.jinja_env.filters["date_fr"] = _date_fr
    app.jinja_env.filters["datetime_fr"] = _datetime_fr
    app.jinja_env.globals["timedelta"] = timedelta
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _shell():
        # the URL map is complete once the app serves: read it once
        endpoints = app.extensions.get("forprev_endpoints")
        if endpoints is None:
            endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
            app.extensions["forprev_endpoints"] = endpoints
        role = g.get("active_role")

        def todo() -> int:
            from app.domain.dashboard import todo_count
            from app.extensions import get_db

            return todo_count(get_db(), role) if role else 0

        return {
            "todo": todo,
            "active_role": role,
            "roles": g.get("roles", []),
            "menu": menu_for(role, endpoints) if role else [],
            "Role": Role,
            "development": app.config["ENV"] == "development",
        }

    headers = security_headers(app)

    @app.after_request
    def _headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _error_page(code: int, detail: str | None = None):
        title, message = ERROR_PAGES.get(code, ERROR_PAGES[500])
        if code == 413:  # the limit is a setting
            message = message.format(max_mb=app.config["UPLOAD_MAX_MB"])
        template = "errors/_error.html" if is_htmx() else "errors/error.html"
        return render_template(
            template, code=code, title=title, message=Markup.escape(detail or message)
        ), code

    @app.errorhandler(CSRFError)
    def _csrf_error(_exc):
        return _error_page(
            400,
            "Votre formulaire a expiré ou ne vient pas de Forprev. "
            "Rechargez la page et recommencez.",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        if exc.code in (301, 302, 303, 307, 308):
            return exc
        return _error_page(exc.code or 500, getattr(exc, "forprev_message", None))

    @app.errorhandler(RedisError)
    def _redis_unreachable(exc):
        # login sessions and throttles live in Redis: without it they cannot be checked,
        # and the request is refused rather than let through; the next one retries
        log.warning("Redis injoignable sur %s : %s", request.path, exc)
        page, code = _error_page(503)
        return page, code, {"Retry-After": "30"}

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("Erreur inattendue sur %s", request.path)
        return _error_page(500)
