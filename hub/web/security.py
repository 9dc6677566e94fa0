"""Who is asking, what they may reach, CSRF on every form, and the audit helper.

Roles are exclusive: each blueprint admits one role (``require_role``), so no role reaches
another role's pages (the role model: docs/security.md, "Roles"). The exam is a proctor's
boundary: they see a room only while one of their sessions in it runs, and of its alerts,
evidence and protocols only those of their own sessions (``hub.store.scope``), not the
previous exam's in the same room. A dean sees the rooms of the buildings they oversee;
technicians and admins see no student data (no alerts, no evidence). Refusals of a room or
of evidence are 404s, so a guessed URL learns nothing.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for

from hub.store import alerts, scope, users
from hub.store import audit as audit_log
from hub.store import logins as web_logins
from hub.store.db import connect

CSRF_KEY = "_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def db():
    """This request's read-only connection (closed on teardown)."""
    if "db" not in g:
        g.db = connect(current_app.extensions["kuzet"].db_path, readonly=True)
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def writer():
    return current_app.extensions["kuzet"].writer


LOGIN_KEY = "login"      # the cookie's login token


def load_user() -> None:
    """``g.user``: the user of the cookie's login if the server still holds it open (no
    logout, password change or deactivation since), it is younger than ``session_hours``
    and the server has seen it used within ``idle_minutes`` (the login's row, not the
    cookie: a stale copy of the cookie cannot end it). Else the cookie is emptied."""
    g.user = None
    token = session.get(LOGIN_KEY)
    if not token:
        if "uid" in session:                  # a cookie from before logins were held
            forget_login()
        return
    web, now = current_app.config["KUZET_CONFIG"].web, clock()
    idle_s = web.idle_minutes * 60
    found = web_logins.find(db(), token, web.session_hours * 3600, idle_s, now)
    if found.user is None:
        if found.idle:
            writer().call(web_logins.end_idle, token, idle_s, now)
        forget_login()
        return
    g.user = found.user
    if now - found.last_seen >= web_logins.touch_every(idle_s):   # not a write per request
        writer().call(web_logins.touch, token, now)


def login_check() -> Callable[[], bool]:
    """For a long response (the live stream): a function that tells later, outside the
    request, whether this request's login is still open (no logout, password change or
    deactivation since)."""
    db_path = current_app.extensions["kuzet"].db_path
    token = session.get(LOGIN_KEY, "")
    max_age_s = current_app.config["KUZET_CONFIG"].web.session_hours * 3600

    def still_open() -> bool:
        conn = connect(db_path, readonly=True)
        try:
            return web_logins.user_for(conn, token, max_age_s) is not None
        finally:
            conn.close()
    return still_open


def forget_login() -> None:
    """Empty the cookie but for the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    token = session.get(CSRF_KEY, "")
    if not token or not hmac.compare_digest(sent.encode(), token.encode()):
        abort(400, description="csrf")


def require_role(*roles: str) -> Callable[[], Any]:
    """A blueprint ``before_request``: login, then one of ``roles``, else 403."""
    def guard():
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path))
        if g.user.role not in roles:
            abort(403)
        return None
    return guard


def roles_allowed(*roles: str):
    """The same check for a single view."""
    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            refused = require_role(*roles)()
            return refused if refused is not None else view(*args, **kwargs)
        return wrapped
    return deco


def visible_rooms(user) -> set[tuple[str, str]] | None:
    """The rooms of a proctor's sessions running now (``None`` for a dean: the rooms of
    their buildings, ``dean_buildings``)."""
    if user is None:
        return set()
    if user.role == "dean":
        return None
    if user.role == "proctor":
        return {(w.building, w.room) for w in _proctor_sessions(user)}
    return set()


def _proctor_sessions(user) -> list[scope.SessionWindow]:
    """A proctor's sessions running now, read once per request (the room check and the
    session check of one alert both need them)."""
    if "proctor_sessions" not in g:
        g.proctor_sessions = scope.proctor_sessions(db(), user.id)
    return g.proctor_sessions


def dean_buildings(user) -> set[str]:
    """The buildings a dean oversees (none for any other role)."""
    if user is None or user.role != "dean":
        return set()
    if "dean_buildings" not in g:
        g.dean_buildings = set(users.buildings(db(), user.id))
    return g.dean_buildings


def my_sessions(user) -> set[int] | None:
    """The sessions whose alerts and evidence ``user`` may see now: a proctor's sessions
    running now (``None`` for a dean: every session of the rooms they may see)."""
    if user is not None and user.role == "dean":
        return None
    if user is None or user.role != "proctor":
        return set()
    return {w.id for w in _proctor_sessions(user)}


def can_see_room(user, building: str, room: str) -> bool:
    if user is None:
        return False
    if user.role == "dean":
        return building in dean_buildings(user)
    return user.role == "proctor" and (building, room) in (visible_rooms(user) or set())


def room_or_404(building: str, room: str) -> None:
    if not can_see_room(g.user, building, room):
        abort(404)


def alert_or_404(alert_id: str):
    """The alert's row, if ``g.user`` may see it: its room, and for a proctor one of their
    sessions running now; else 404."""
    return _in_scope_or_404(alerts.alert_row(db(), alert_id))


def evidence_or_404(evidence_id: str):
    """The evidence row of an alert, if ``g.user`` may see that alert (``alert_or_404``);
    else 404. Files filed under a command's id (a check-in crop, a fresh picture of a seat,
    a technician's snapshot) are no alert's evidence: only their own routes serve them."""
    row = alerts.evidence_row(db(), evidence_id)
    if row is None or alerts.alert_row(db(), row["alert_id"]) is None:
        abort(404)
    return _in_scope_or_404(row)


def _in_scope_or_404(row):
    """An alert's or evidence row (its ``alert_id``, ``building``, ``room``) if ``g.user``
    may see that alert; else 404."""
    if row is None:
        abort(404)
    room_or_404(row["building"], row["room"])
    mine = my_sessions(g.user)
    if mine is not None and scope.alert_session(db(), row["alert_id"]) not in mine:
        abort(404)
    return row


def audit(action: str, target: str = "", building: str | None = None,
          room: str | None = None, **detail: Any) -> None:
    """Record who did what to what, from where (through the writer)."""
    writer().call(audit_log.record, g.get("user"), action, target, building, room, detail,
                  request.remote_addr or "")


def clock() -> float:
    """The web app's wall clock, seconds since the epoch: ``KUZET_CLOCK`` in the app's config
    if set (tests pass a fake, so nothing sleeps), else ``time.time``."""
    return current_app.config.get("KUZET_CLOCK", time.time)()
