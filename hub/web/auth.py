"""Log in and out, choose the language, and send each role to its own home page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from hub.store import accounts
from hub.web import labels
from hub.web.security import audit, csrf_token, db

bp = Blueprint("auth", __name__)

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
        user = accounts.check_login(db(), username, request.form.get("password", ""))
        if user is not None:
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
