"""Forprev: accreditations, certification sessions and certificates for prevention training."""

from datetime import timedelta

from flask import Flask, g, request


def create_app(config: dict | None = None) -> Flask:
    from app.config import INSTANCE, load_settings

    app = Flask(__name__, instance_path=str(INSTANCE))
    app.config.update(load_settings(config))
    development = app.config["ENV"] == "development"
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not development and not app.config.get("TESTING"),
        SESSION_COOKIE_NAME="forprev_session",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["IDLE_MINUTES"]),
        # the cookie is written only when the session changes (see auth_user.SEEN_AT_STEP):
        # a cookie sent back by every answer lets a slow background request (a live check)
        # overwrite the one a form's answer just set, losing its message
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_DURATION=timedelta(seconds=0),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the login session
        # the largest upload plus room for the form's other fields
        MAX_CONTENT_LENGTH=app.config["UPLOAD_MAX_MB"] * 1024 * 1024 + 64 * 1024,
    )

    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from app.extensions import csrf, init_db, login_manager

    init_db(app)
    csrf.init_app(app)
    login_manager.init_app(app)

    from app import auth_user, web

    auth_user.init_app(app)
    web.init_app(app)

    from app import static_files

    static_files.init_app(app)  # hashed, compressed, cached a year (not in development)

    from app import ids

    ids.init_app(app)  # the bounded `int` of every route, before any route is added

    from app.blueprints import register_blueprints

    register_blueprints(app)

    from app.cli import register_cli

    register_cli(app)

    @app.before_request
    def _load_role():
        from app.domain.access import load_active_role
        from app.extensions import get_db

        if request.endpoint and request.endpoint != "static":
            load_active_role(get_db())
        else:
            g.active_role = None

    return app
