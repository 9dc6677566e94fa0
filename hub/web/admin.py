"""The administrator's pages: users, rooms (seat maps), exam sessions, the audit log.

Admins manage; they do not see alerts or evidence (no student data beyond the seat map's
names that they load themselves)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from pydantic import ValidationError

from hub.store import audit as audit_store
from hub.store import logins, rooms, sessions, users
from hub.web.inputs import parse_json
from hub.web.security import audit, db, require_role, writer
from kuzet.contract import NAME_RE

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role("admin"))


@bp.get("/")
def home():
    deans = {u["id"]: users.buildings(db(), u["id"]) for u in users.listing(db())
             if u["role"] == "dean"}
    return render_template("admin.html", users=users.listing(db()), dean_buildings=deans,
                           sessions=sessions.recent(db()), rooms=rooms.all_rooms(db()),
                           roles=users.ROLES)


@bp.get("/audit")
def audit_log():
    return render_template("admin_audit.html", entries=audit_store.entries(db()))


def _building_names(text: str) -> list[str]:
    return [n.strip() for n in text.replace(";", ",").split(",") if n.strip()]


@bp.post("/users")
def add_user():
    f = request.form
    buildings = _building_names(f.get("buildings", ""))
    try:
        writer().call(users.add_with_buildings, f.get("username", "").strip(),
                      f.get("password", ""), f.get("role", ""),
                      f.get("display_name", "").strip(), buildings)
    except Exception as exc:                  # duplicate name, short password, bad role
        flash(_("Could not add the user: %(why)s", why=str(exc)), "error")
        return redirect(url_for("admin.home"))
    audit("user.add", f.get("username", ""), role_given=f.get("role", ""),
          buildings=buildings)
    flash(_("User added."), "ok")
    return redirect(url_for("admin.home"))


@bp.post("/users/<int:user_id>/buildings")
def set_buildings(user_id: int):
    """The buildings a dean oversees, replaced by the list given."""
    row = next((u for u in users.listing(db()) if u["id"] == user_id), None)
    if row is None or row["role"] != "dean":
        abort(404)
    buildings = _building_names(request.form.get("buildings", ""))
    try:
        writer().call(users.set_buildings, user_id, buildings)
    except ValueError as exc:
        flash(_("Could not change the buildings: %(why)s", why=str(exc)), "error")
        return redirect(url_for("admin.home"))
    audit("user.buildings", row["username"], buildings=buildings)
    flash(_("Buildings saved."), "ok")
    return redirect(url_for("admin.home"))


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int):
    """Deactivate a user (their logins end at once; they cannot log in) or activate again."""
    active = request.form.get("active") == "1"
    row = next((u for u in users.listing(db()) if u["id"] == user_id), None)
    if row is None:
        abort(404)
    if user_id == g.user.id and not active:
        flash(_("You cannot deactivate yourself."), "error")
        return redirect(url_for("admin.home"))
    ended = writer().call(logins.set_active, row["username"], active)
    audit("user.activate" if active else "user.deactivate", row["username"], logins_ended=ended)
    flash(_("User activated.") if active else _("User deactivated; their logins have ended."),
          "ok")
    return redirect(url_for("admin.home"))


def _local(value: str) -> datetime:
    tz = ZoneInfo(current_app.config["KUZET_CONFIG"].hub.timezone)
    return datetime.fromisoformat(value).replace(tzinfo=tz)


@bp.post("/sessions")
def add_session():
    f = request.form
    building, room = f.get("building", ""), f.get("room", "")
    try:
        if not (NAME_RE.match(building) and NAME_RE.match(room)):
            raise ValueError(_("bad building or room name"))
        writer().call(sessions.add_session, building, room, f.get("proctor", ""),
                      _local(f.get("starts_at", "")), _local(f.get("ends_at", "")),
                      f.get("title", ""), g.user.id)
    except Exception as exc:
        flash(_("Could not add the session: %(why)s", why=str(exc)), "error")
        return redirect(url_for("admin.home"))
    audit("session.add", f"{building}/{room}", building, room, proctor=f.get("proctor", ""))
    flash(_("Session added."), "ok")
    return redirect(url_for("admin.home"))


@bp.post("/rooms")
def load_seatmap():
    f = request.form
    building, room = f.get("building", ""), f.get("room", "")
    upload = request.files.get("seatmap")
    text = upload.read().decode("utf-8", "replace") if upload else f.get("seatmap_json", "")
    try:
        if not (NAME_RE.match(building) and NAME_RE.match(room)):
            raise ValueError(_("bad building or room name"))
        writer().call(rooms.load_seatmap, building, room, parse_json(text),
                      f.get("title", ""))
    except (ValueError, ValidationError) as exc:
        flash(_("Could not load the seat map: %(why)s", why=str(exc)[:300]), "error")
        return redirect(url_for("admin.home"))
    audit("room.seatmap", f"{building}/{room}", building, room)
    flash(_("Seat map loaded."), "ok")
    return redirect(url_for("admin.home"))
