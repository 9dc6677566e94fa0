"""The dean's pages: every room of their buildings at a glance (which need a visit), such a
room's live view (read only), and logging a visit (round, regulation 4.4)."""

from __future__ import annotations

import time

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from hub.store import rooms, rounds
from hub.web.live import room_context
from hub.web.security import audit, db, dean_buildings, require_role, room_or_404, writer

bp = Blueprint("dean", __name__, url_prefix="/dean")
bp.before_request(require_role("dean"))


@bp.get("/")
def overview():
    at_a_glance = rounds.overview(db(), since_epoch=time.time() - 12 * 3600,
                                  buildings=dean_buildings(g.user))
    return render_template("dean_overview.html", rooms=at_a_glance)


@bp.get("/room/<building>/<room>")
def room(building: str, room: str):
    room_or_404(building, room)                       # a room of the dean's buildings
    ctx = room_context(building, room)
    if ctx is None:
        abort(404)
    audit("room.view", f"{building}/{room}", building, room)
    return render_template("room.html", can_act=False, **ctx)


@bp.post("/room/<building>/<room>/round")
def round_(building: str, room: str):
    room_or_404(building, room)
    if rooms.room(db(), building, room) is None:
        abort(404)
    note = request.form.get("note", "")
    writer().call(rounds.log_round, g.user, building, room, note)
    audit("round", f"{building}/{room}", building, room)
    return redirect(url_for("dean.overview"))
