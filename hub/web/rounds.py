"""The dean's rounds (clause 4.4): one screen for the building (every exam in progress by
room, its proctors, open and confirmed alerts, node health, time since the last visit, and a
suggested order of visits), a visit logged with remarks in one tap, and the day report; all
of the dean's own buildings only."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from hub.store import rooms
from hub.store import rounds as store
from hub.store.db import now_iso
from hub.web.security import audit, db, dean_buildings, require_role, room_or_404, writer

bp = Blueprint("rounds", __name__, url_prefix="/rounds")
bp.before_request(require_role("dean"))


@bp.get("/")
def building():
    by_room = store.building_screen(db(), time.time(), now_iso(), dean_buildings(g.user))
    return render_template("rounds.html", rooms=by_room)


@bp.post("/visit/<building>/<room>")
def visit(building: str, room: str):
    room_or_404(building, room)                       # a room of the dean's buildings
    if rooms.room(db(), building, room) is None:
        abort(404)
    note = request.form.get("note", "").strip()[:1000]
    writer().call(store.log_round, g.user, building, room, note)
    audit("round", f"{building}/{room}", building, room)
    return redirect(url_for("rounds.building"))


@bp.get("/report")
def report():
    tz = ZoneInfo(current_app.config["KUZET_CONFIG"].hub.timezone)
    try:
        day = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        day = datetime.now(tz).date()
    start = datetime.combine(day, datetime.min.time(), tz).astimezone(UTC)
    end = start + timedelta(days=1)

    def z(dt: datetime) -> str:
        return dt.isoformat(timespec="seconds").replace("+00:00", "Z")

    data = store.day_report(db(), z(start), z(end), dean_buildings(g.user))
    return render_template("rounds_report.html", day=day, **data)
