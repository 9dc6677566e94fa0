"""Log in and out, choose the language, and send each role to its own home page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from hub.store import users
from hub.web import labels
from hub.web.ratelimit import FailureLimiter
from hub.web.security import audit, csrf_token, db

bp = Blueprint("auth", __name__)


def login_limits() -> tuple[FailureLimiter, FailureLimiter]:
    """Five wrong passwords for one user name, or twenty from one address, within five
    minutes: that key waits until the window has passed. One pair per app."""
    limits = current_app.extensions.get("kuzet_login_limits")
    if limits is None:
        limits = current_app.extensions["kuzet_login_limits"] = (
            FailureLimiter(per_key=5, window_s=300), FailureLimiter(per_key=20, window_s=300))
    return limits

HOMES = {"proctor": "proctor.rooms", "dean": "dean.overview", "technician": "technician.nodes",
         "admin": "admin.home"}


@bp.get("/")
def home():
    if g.user is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOMES[g.user.role]))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no '//')."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:100]
        address = request.remote_addr or "?"
        user_limit, address_limit = login_limits()
        wait = max(user_limit.retry_after(f"user:{username.lower()}"),
                   address_limit.retry_after(f"addr:{address}"))
        if wait > 0:
            g.user = None
            audit("login.throttled", username)
            error = _("Too many failed attempts. Try again in %(minutes)d min.",
                      minutes=max(1, round(wait / 60)))
            return render_template("login.html", error=error), 429
        user = users.check_login(db(), username, request.form.get("password", ""))
        if user is not None:
            user_limit.succeeded(f"user:{username.lower()}")
            lang = session.get("lang")
            session.clear()                   # a new session: no fixation
            session.permanent = True
            session["uid"] = user.id
            if lang:
                session["lang"] = lang
            csrf_token()
            g.user = user
            audit("login")
            return redirect(_safe_next(request.args.get("next")) or url_for(HOMES[user.role]))
        g.user = None
        user_limit.failed(f"user:{username.lower()}")
        address_limit.failed(f"addr:{address}")
        audit("login.failed", username)
        error = _("Wrong user name or password.")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    if g.user is not None:
        audit("logout")
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    lang = request.form.get("lang", "")
    if lang not in labels.LANGUAGES:
        abort(400)
    session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")) or url_for("auth.home"))
