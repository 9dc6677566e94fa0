"""The dean's rounds (clause 4.4): the route through the building (every exam in progress by
room, numbered in the suggested order of visits, its proctors, open high-severity and
confirmed alerts, node health, the last visit: when and by whom; a visit is logged with
remarks in one tap, ``dean.round_``), and the day report; all of the dean's own buildings
only."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, render_template, request

from hub.store import rounds as store
from hub.web.security import db, dean_buildings, require_role

bp = Blueprint("rounds", __name__, url_prefix="/rounds")
bp.before_request(require_role("dean"))


@bp.get("/")
def building():
    route = store.building_screen(db(), time.time(), dean_buildings(g.user))
    return render_template("rounds.html", rooms=route)


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
