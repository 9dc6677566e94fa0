"""Log in and out, choose the language, and send each role to its own home page."""

from __future__ import annotations

import math
from dataclasses import dataclass
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

from hub.store import logins, users
from hub.web import labels
from hub.web.ratelimit import BackoffLimiter
from hub.web.security import (
    LOGIN_KEY,
    audit,
    clock,
    csrf_token,
    db,
    forget_login,
    writer,
)

bp = Blueprint("auth", __name__)


@dataclass(frozen=True)
class LoginLimits:
    """Wrong passwords slow down the client that sent them: for one user name after five
    (15 s, then doubling up to 15 min), for any name after twenty. A client that has not
    failed is never refused."""

    per_name: BackoffLimiter
    per_client: BackoffLimiter

    @classmethod
    def default(cls) -> LoginLimits:
        return cls(BackoffLimiter(free=5, base_s=15, max_s=900, forget_s=3600),
                   BackoffLimiter(free=20, base_s=15, max_s=900, forget_s=3600))

    def retry_after(self, client: str, username: str) -> float:
        return max(self.per_name.retry_after(_name_key(client, username)),
                   self.per_client.retry_after(client))

    def failed(self, client: str, username: str) -> None:
        self.per_name.failed(_name_key(client, username))
        self.per_client.failed(client)

    def succeeded(self, client: str, username: str) -> None:
        self.per_name.succeeded(_name_key(client, username))


def _name_key(client: str, username: str) -> str:
    return f"{client}\0{username.lower()}"


def login_limits() -> LoginLimits:
    """The app's login limits (one per app)."""
    limits = current_app.extensions.get("kuzet_login_limits")
    if limits is None:
        limits = current_app.extensions["kuzet_login_limits"] = LoginLimits.default()
    return limits


HOMES = {"proctor": "proctor.rooms", "dean": "dean.overview", "technician": "technician.nodes",
         "admin": "admin.home"}
# the campus hub (docs/campus.md): its pages are the deans' and the academic office's only
CAMPUS_HOMES = {"dean": "campus.overview", "office": "campus.overview"}


def home_of(user) -> str:
    """The URL of ``user``'s first page on this hub; 403 for a role with none here."""
    homes = CAMPUS_HOMES if current_app.config["KUZET_CONFIG"].is_campus else HOMES
    if user.role not in homes:
        abort(403)
    return url_for(homes[user.role])


@bp.get("/")
def home():
    if g.user is None:
        return redirect(url_for("auth.login"))
    return redirect(home_of(g.user))


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
        client = request.remote_addr or "?"    # the proxy's X-Forwarded-For only if trusted
        limits = login_limits()
        wait = limits.retry_after(client, username)
        if wait > 0:
            g.user = None
            audit("login.throttled", username)
            error = _("Too many failed attempts. Try again in %(minutes)d min.",
                      minutes=max(1, math.ceil(wait / 60)))
            return render_template("login.html", error=error), 429, \
                {"Retry-After": str(math.ceil(wait))}
        user = users.check_login(db(), username, request.form.get("password", ""))
        if user is not None:
            limits.succeeded(client, username)
            begin_login(writer().call(logins.start, user.id, clock()))
            g.user = user
            audit("login")
            return redirect(_safe_next(request.args.get("next")) or home_of(user))
        g.user = None
        limits.failed(client, username)
        audit("login.failed", username)
        error = _("Wrong user name or password.")
    return render_template("login.html", error=error), (401 if error else 200)


def begin_login(token: str) -> None:
    """A new cookie for a login just started (no fixation: nothing of the old one but the
    language)."""
    forget_login()
    session.permanent = True
    session[LOGIN_KEY] = token
    csrf_token()


@bp.post("/logout")
def logout():
    """Ends this login on the server: a copy of the cookie opens nothing afterwards."""
    if g.user is not None:
        writer().call(logins.end, session[LOGIN_KEY], "logout")
        audit("logout")
    forget_login()
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    lang = request.form.get("lang", "")
    if lang not in labels.LANGUAGES:
        abort(400)
    session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")) or url_for("auth.home"))
