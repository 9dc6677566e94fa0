"""The dean's pages: a tile per room of their buildings (live state, open high-severity
alerts, last visit, proctors on duty; the rooms that need a visit first), the tiles' data
for the page to refresh itself, such a room's live view (read only), and logging a visit
(round, regulation 4.4)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from hub.store import rooms, rounds, users
from hub.store.db import connect, now_iso
from hub.web.live import room_context
from hub.web.security import (
    audit,
    db,
    dean_buildings,
    login_check,
    require_role,
    room_or_404,
    writer,
)
from hub.web.sse import event_stream

bp = Blueprint("dean", __name__, url_prefix="/dean")
bp.before_request(require_role("dean"))

POLL_S = 10      # the overview re-reads its tiles this often (and at once on a change)


def _tiles() -> list[dict]:
    return rounds.tiles(db(), time.time(), dean_buildings(g.user))


@bp.get("/")
def overview():
    return render_template("dean_overview.html", tiles=_tiles(), poll_s=POLL_S,
                           now_iso=now_iso())


@bp.get("/tiles.json")
def tiles_json():
    """The tiles as data and as the page's HTML (one rendering, translated, in the hub's
    time zone), for the overview to refresh itself without a reload."""
    return tiles_response(_tiles())


def tiles_response(tiles: list[dict]):
    """Tiles as ``dean.js`` re-reads them: the data (without the exams' details) and the
    grid's HTML; the dean's overview and the campus overview answer with it."""
    return jsonify({"at": now_iso(),
                    "tiles": [{k: v for k, v in t.items() if k != "exams"} for t in tiles],
                    "html": render_template("_dean_tiles.html", tiles=tiles)})


@bp.get("/stream")
def stream():
    """Server-Sent Events: ``changed`` (no data) when an alert or a node of the dean's
    buildings changes, for the overview to re-read its tiles at once; a keep-alive every
    ``sse_keepalive_s``, the login and the buildings re-checked then (``denied`` if gone);
    the stream ends after ``sse_max_age_s`` and the browser reconnects by itself."""
    user = g.user
    return buildings_stream(lambda conn: set(users.buildings(conn, user.id)))


def buildings_stream(allowed: Callable[[sqlite3.Connection], set[str] | None]):
    """The ``changed`` stream for the buildings ``allowed(conn)`` names now (None: every
    building; empty: none, the stream is ``denied``), re-read with the login at each
    keep-alive; the dean's overview and the campus hub's share it."""
    services = current_app.extensions["kuzet"]
    web = current_app.config["KUZET_CONFIG"].web
    login_open = login_check()
    sub = services.bus.subscribe(None)

    def still_mine() -> set[str] | None:
        conn = connect(services.db_path, readonly=True)
        try:
            return allowed(conn) if login_open() else set()
        finally:
            conn.close()

    buildings = still_mine()

    def render(batch: list, overflowed: bool) -> bytes | None:
        changed = overflowed or any(buildings is None or ev.building in buildings
                                    for ev in batch)
        return b"event: changed\ndata: {}\n\n" if changed else None

    def still_allowed() -> bool:
        nonlocal buildings
        buildings = still_mine()
        return buildings is None or bool(buildings)

    return event_stream(sub, web, render, still_allowed, retry_ms=2000,
                        idle=b": keepalive\n\n")


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
    """Log the dean's visit in one tap (from a tile, the room's view or the route); back to
    where it was tapped (``back``: overview, room, rounds)."""
    room_or_404(building, room)
    if rooms.room(db(), building, room) is None:
        abort(404)
    note = request.form.get("note", "").strip()[:1000]
    writer().call(rounds.log_round, g.user, building, room, note)
    audit("round", f"{building}/{room}", building, room)
    where = f"{building} · {room}"
    flash(_("Visit to %(room)s logged.", room=where), "ok")
    back = request.form.get("back", "overview")
    if back == "room":
        return redirect(url_for("dean.room", building=building, room=room))
    if back == "rounds":
        return redirect(url_for("rounds.building"))
    return redirect(url_for("dean.overview"))
