"""Realtime moderation and input collection for live hybrid sessions.

``create_app`` builds one application: settings, database, plugins, the
command service, Socket.IO and the pages. Nothing here depends on the async
mode: eventlet or gevent is chosen (and monkey-patched) by
``moderation.server`` before Flask is imported, so this module imports Flask,
Flask-SocketIO and SQLAlchemy inside the functions that use them.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moderation.core.errors import Forbidden
from moderation.version import __version__  # re-exported: moderation.__version__

if TYPE_CHECKING:
    from flask import Flask

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
log = logging.getLogger(__name__)


class OriginPolicy:
    """Socket.IO origin check: the page's own origin, plus configured ones.
    Never ``*``: sessions ride on cookies.

    The page's own origin is the request's ``Host`` (which the proxy sets)
    and scheme: ``wsgi.url_scheme``, which ``X-Forwarded-Proto`` sets only
    behind a trusted proxy (``TRUSTED_PROXY_HOPS``, werkzeug's ProxyFix). No
    header a client sends itself is believed: ``X-Forwarded-Host`` is passed
    through by the documented nginx."""

    def __init__(self, extra: list[str]):
        self.extra = {origin.rstrip("/") for origin in extra}

    def __call__(self, origin, environ=None) -> bool:
        if origin in self.extra:
            return True
        if environ is None:
            return False
        return origin == f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"


def resource_folder(name: str) -> Path:
    """``templates`` or ``static``: inside the package when installed from a
    wheel or sdist (setup.cfg maps them there), beside it in a checkout
    (where they stay, also for an editable install)."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else ROOT / name


def default_instance_path() -> str | None:
    """A checkout keeps its instance folder (database, secret key) in
    ``instance/``; an installed package leaves it to Flask
    (``<prefix>/var/moderation-instance``) rather than inside site-packages."""
    return str(ROOT / "instance") if (ROOT / "setup.cfg").is_file() else None


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from flask import Flask
    from flask_socketio import SocketIO
    from flask_wtf.csrf import CSRFError, CSRFProtect

    from moderation import features
    from moderation.core.attempts import Throttle
    from moderation.core.config import load_settings
    from moderation.core.db import Database
    from moderation.core.service import Service
    from moderation.plugins import agenda_item_types, make_plugin_manager
    from moderation.web import api, sessions
    from moderation.web import pages as web
    from moderation.web.message_queue import socketio_options
    from moderation.web.realtime import Realtime

    config = dict(config or {})
    instance_path = config.pop("INSTANCE_PATH", None) or os.environ.get("MODERATION_INSTANCE_PATH") \
        or default_instance_path()
    app = Flask(__name__, instance_path=instance_path and str(instance_path), instance_relative_config=True,
                template_folder=str(resource_folder("templates")), static_folder=str(resource_folder("static")))
    settings = load_settings(app.instance_path, config)
    from moderation.core import storable
    storable.init_app(app)  # numbers in URLs, query strings and forms that no database stores
    from moderation.web import bodies
    bodies.init_app(app)  # each route's body limit, before anything reads the body
    app.config.update(settings)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["SESSION_COOKIE_SECURE"],
        # Over HTTPS the __Host- prefix makes browsers refuse the cookie unless
        # it is Secure, for this host only, and for every path.
        SESSION_COOKIE_NAME=("__Host-" if settings["SESSION_COOKIE_SECURE"] else "") + "moderation_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings["SESSION_MAX_HOURS"]),
        MAX_CONTENT_LENGTH=settings["MAX_PAYLOAD_BYTES"],
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    logging.getLogger("moderation").setLevel(settings["LOG_LEVEL"])

    db = Database(settings["DATABASE_URL"])
    if settings["AUTO_UPGRADE"]:
        db.upgrade()
    plugins = make_plugin_manager(settings["PLUGINS"], tuple(config.get("PLUGIN_OBJECTS", ())))
    agenda_item_types(plugins)  # fail early on clashing plugins
    features.load_features()  # every command, section and read registered before anything serves
    service = Service(app, db, plugins)
    app.extensions["db"] = db
    app.extensions["moderation"] = service
    app.extensions["plugins"] = plugins
    from moderation.server import offloader
    app.extensions["offload"] = offloader(settings["ASYNC_MODE"])  # CPU work off the event loop

    socketio = SocketIO(
        app,
        async_mode=settings["ASYNC_MODE"],
        **socketio_options(settings["MESSAGE_QUEUE"], settings["MESSAGE_QUEUE_CHANNEL"]),
        cors_allowed_origins=OriginPolicy(settings["ALLOWED_ORIGINS"]),
        max_http_buffer_size=settings["MAX_PAYLOAD_BYTES"],
        ping_interval=20,
        ping_timeout=20,
        json=_JSON,
    )
    app.extensions["realtime"] = Realtime(socketio, service)
    if settings["TRUSTED_PROXY_HOPS"]:
        # Outside the Socket.IO middleware, so that connections see the
        # client's address and scheme too. X-Forwarded-Host is not believed:
        # the documented nginx passes the client's own through.
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = settings["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
    app.extensions["throttle"] = Throttle(settings)
    sessions.init_app(app)

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # the API checks CSRF itself for cookie sessions, bearer tokens need none
    app.register_blueprint(web.bp)
    api.route_commands()
    app.register_blueprint(api.bp)
    features.init_app(app)  # each feature's commands, sections, reads, pages and API paths
    for blueprints in plugins.hook.register_blueprints(app=app):
        for blueprint in blueprints or ():
            app.register_blueprint(blueprint)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        from flask import render_template

        error = Forbidden("This form has expired. Reload the page and try again.")
        return render_template("error.html", error=error), 400

    @app.get("/healthz")
    def healthz():
        return _health(app)

    @app.after_request
    def _security_headers(response):
        from flask import request
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Content-Security-Policy",
                           "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; "
                           "form-action 'self'; object-src 'none'")
        if "frame-ancestors" not in headers["Content-Security-Policy"]:  # a view's own policy (a download)
            headers["Content-Security-Policy"] += "; frame-ancestors 'none'"
        if request.path.startswith("/api/"):  # answers for one caller: names, e-mail addresses, links
            headers["Cache-Control"] = "no-store"
        if settings["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    @app.context_processor
    def _template_globals():
        from flask_wtf.csrf import generate_csrf
        return {"csrf_token": generate_csrf, "app_version": __version__}

    return app


class _JSON:
    """Compact JSON for Socket.IO payloads (every byte goes to every client)."""

    @staticmethod
    def dumps(obj, **kwargs):
        import json
        kwargs.setdefault("separators", (",", ":"))
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(text_, **kwargs):
        from moderation.web.packets import loads  # raises only ValueError, whatever the nesting
        return loads(text_)


def _health(app: Flask):
    from flask import jsonify
    from sqlalchemy import text

    status: dict[str, Any] = {"status": "ok", "version": __version__}
    db = app.extensions["db"]
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        status["database"] = {"status": "ok", "schema_current": db.is_current()}
    except Exception as exc:  # report, never raise
        status["database"] = {"status": "error", "error": type(exc).__name__}
        status["status"] = "error"
    queue = app.config.get("MESSAGE_QUEUE")
    if queue:
        try:
            import redis
            redis.Redis.from_url(queue, socket_timeout=2, socket_connect_timeout=2).ping()
            status["message_queue"] = {"status": "ok"}
        except Exception as exc:
            status["message_queue"] = {"status": "error", "error": type(exc).__name__}
            status["status"] = "error"
    else:
        status["message_queue"] = {"status": "not configured"}
    return jsonify(status), (200 if status["status"] == "ok" else 503)
