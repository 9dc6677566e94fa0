"""The hub's Flask app: ``create_app(config)``; nothing happens at import time.

It registers the blueprints (``hub.web``'s modules), the request hooks (user, CSRF, security
headers), the template helpers and the error pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, g, render_template, request, session
from flask_babel import Babel, format_datetime, format_time
from werkzeug.routing import IntegerConverter

from hub import zone
from hub.config import HubConfig
from hub.services import HubServices
from hub.web import (
    account,
    admin,
    auth,
    campus,
    check_in,
    dean,
    detection_feedback,
    enrolment,
    formatting,
    labels,
    live,
    proctor,
    public,
    rounds,
    security,
    sessions,
    technician,
    violation_protocols,
)
from hub.web.proxies import TrustedProxies

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"


def create_app(config: HubConfig, services: HubServices | None = None) -> Flask:
    """The app for ``config``. Without ``services``, starts its own writer (no MQTT ingest);
    ``kuzet hub run`` passes the process's shared services (writer, bus, ingest)."""
    app = Flask("hub.web")                    # templates/ and static/ are hub/web's
    app.config.update(
        SECRET_KEY=config.secret_key(),
        SESSION_COOKIE_SECURE=config.web.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="kuzet_hub",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.web.session_hours),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE=config.hub.default_language,
        BABEL_DEFAULT_TIMEZONE=config.hub.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        KUZET_CONFIG=config,
    )
    if services is None:
        services = HubServices(config).start(ingest=False)
    app.extensions["kuzet"] = services
    app.wsgi_app = TrustedProxies(app.wsgi_app, config.web.trusted_proxies)  # the client's address
    app.url_map.converters["int"] = SqliteIdConverter    # before any route is added

    Babel(app, locale_selector=lambda: _locale(config))

    app.teardown_appcontext(security.close_db)
    app.before_request(security.load_user)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals.update(
        csrf_token=security.csrf_token, labels=labels, languages=labels.LANGUAGES,
        hub_timezone=config.hub.timezone, local_time=_local_time, local_datetime=_local_dt,
        hub_zone=lambda: zone.label(config.hub.timezone),   # base.html names it
        current_lang=lambda: _locale(config), campus=config.is_campus)
    app.jinja_env.filters.update(_number_filters(config))

    for bp in CAMPUS_BLUEPRINTS if config.is_campus else BUILDING_BLUEPRINTS:
        app.register_blueprint(bp)
    if config.provisioning.enabled:
        from hub.provisioning_bridge import ProvisioningBridge

        app.extensions[technician.BRIDGE_KEY] = ProvisioningBridge(config, services)
    for code in (400, 403, 404, 405):
        app.register_error_handler(code, _error)
    return app


# A building's hub; a campus hub (docs/campus.md) has only the login, the account and its
# read-only campus pages: no proctor, technician, enrolment, evidence or admin pages.
BUILDING_BLUEPRINTS = (auth.bp, account.bp, proctor.bp, dean.bp, technician.bp, admin.bp,
                       live.bp, enrolment.bp, sessions.bp, violation_protocols.bp, rounds.bp,
                       public.bp, detection_feedback.bp, check_in.bp)
CAMPUS_BLUEPRINTS = (auth.bp, account.bp, campus.bp)


class SqliteIdConverter(IntegerConverter):
    """``<int:…>`` in a URL: only what SQLite can hold (up to 2**63 - 1). A bigger forged
    id is a 404 like any unknown id, not an ``OverflowError`` in the query (found by
    ``tests/test_fuzz_forms.py``)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


CSRF_EXEMPT = {"enrolment.fetch"}     # a Pi with a one-time code: no session, no token
# Uploads larger than MAX_CONTENT_LENGTH (2 MB): the roster's zip of photos (hub.photos), up
# to nginx's client_max_body_size (provisioning/web_front.py: 32m)
LARGE_UPLOADS = {"exams.import_csv": 30 * 2**20}


def _check_csrf():
    if request.endpoint in LARGE_UPLOADS:     # before the form is read, by the CSRF check
        request.max_content_length = LARGE_UPLOADS[request.endpoint]
    if request.endpoint in CSRF_EXEMPT:
        return None
    return security.check_csrf()


def _locale(config: HubConfig) -> str:
    lang = session.get("lang")
    return lang if lang in labels.LANGUAGES else config.hub.default_language


def _number_filters(config: HubConfig) -> dict:
    """``hub.web.formatting`` as Jinja filters in the page's language (``n.fps|fps``), and
    ``ago``: how long before now a time (ISO or epoch) was."""
    def in_locale(fn):
        return lambda value: fn(value, _locale(config))

    def ago(value: str | float | None) -> str:
        dt = _parse(value)
        elapsed = (datetime.now(UTC) - dt).total_seconds() if dt else None
        return formatting.age(elapsed, _locale(config))

    return {**{name: in_locale(fn) for name, fn in formatting.FILTERS.items()}, "ago": ago}


def _parse(value: str | float | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _local_time(value: str | float | None) -> str:
    dt = _parse(value)
    return format_time(dt, "HH:mm:ss") if dt else ""


def _local_dt(value: str | float | None) -> str:
    dt = _parse(value)
    return format_datetime(dt, "yyyy-MM-dd HH:mm:ss") if dt else ""


def _headers(response):
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if g.get("user") is not None and request.endpoint != "static":
        # what a signed-in user is shown (pages, evidence, clips, protocol PDFs) stays out of
        # the browser's cache: a shared tablet keeps nothing after the logout
        response.headers["Cache-Control"] = "no-store"
    return response


def _error(exc):
    code = getattr(exc, "code", 500)
    if request.accept_mimetypes.best == "application/json" or \
            request.headers.get("X-Requested-With") == "fetch":
        return {"error": code}, code
    return render_template("error.html", code=code), code

