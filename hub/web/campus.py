"""The campus hub's pages (``hub.role = "campus"``, docs/campus.md), read only, for deans
(the rooms of their buildings) and the academic office (every building): the rooms as the
dean's tiles, the open incidents across buildings by severity, the nodes' health and the route
of visits. Evidence and visits are the building's: each incident links to its building hub's
evidence page and each room to its dean's view there, where that hub's login, roles and
audit apply; the campus never fetches or stores evidence."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request

from hub.store import campus, users
from hub.store.db import now_iso
from hub.web.dean import POLL_S, buildings_stream, tiles_response
from hub.web.security import db, dean_buildings, require_role

bp = Blueprint("campus", __name__, url_prefix="/campus")
bp.before_request(require_role("dean", "office"))


def my_buildings(user) -> set[str] | None:
    """The buildings ``user`` sees here: a dean's own, every building for the office."""
    return None if user.role == "office" else dean_buildings(user)


def _campus():
    return current_app.config["KUZET_CONFIG"].campus


def hub_url(building: str, path: str) -> str | None:
    """The address of ``path`` on ``building``'s own hub (None for a building the campus has
    no address of)."""
    base = _campus().hub_url(building)
    return f"{base}{path}" if base else None


def evidence_url(alert: dict) -> str | None:
    """Where the incident's evidence is opened: its building hub's evidence page."""
    return hub_url(alert["building"], f"/evidence/alert/{alert['alert_id']}")


def room_url(building: str, room: str) -> str | None:
    """The room's dean view on its building hub (live, evidence, a visit logged there)."""
    return hub_url(building, f"/dean/room/{building}/{room}")


def _tiles() -> list[dict]:
    return campus.tiles(db(), time.time(), my_buildings(g.user))


def _globals() -> dict:
    return {"evidence_url": evidence_url, "room_url": room_url}


@bp.get("/")
def overview():
    return render_template("campus_overview.html", tiles=_tiles(), poll_s=POLL_S,
                           now_iso=now_iso(), **_globals())


@bp.get("/tiles.json")
def tiles_json():
    """The tiles as data and as the page's HTML (the dean's overview script re-reads it)."""
    return tiles_response(_tiles())


@bp.get("/stream")
def stream():
    """``changed`` when an alert or a node of the user's buildings changes (as the dean's)."""
    user = g.user
    if user.role == "office":
        return buildings_stream(lambda conn: None)
    return buildings_stream(lambda conn: set(users.buildings(conn, user.id)))


def _room_filter() -> tuple[str | None, str | None]:
    """``?building=…&room=…``: one building or room, only if the user may see it (else 404)."""
    building, room = request.args.get("building") or None, request.args.get("room") or None
    mine = my_buildings(g.user)
    if room is not None and building is None:
        abort(404)
    if building is not None and mine is not None and building not in mine:
        abort(404)
    return building, room


@bp.get("/incidents")
def incidents():
    building, room = _room_filter()
    found = campus.open_incidents(db(), my_buildings(g.user), building, room)
    return render_template("campus_incidents.html", groups=campus.by_severity(found),
                           count=len(found), building=building, room=room, now_iso=now_iso(),
                           **_globals())


@bp.get("/incidents.json")
def incidents_json():
    """The open incidents as data, worst first, each with its evidence link."""
    return jsonify({"at": now_iso(), "incidents": [
        {"alert_id": a["alert_id"], "building": a["building"], "room": a["room"],
         "seat": a["seat"], "rule": a["rule"], "started_at": a["started_at"],
         "status": a["status"], "evidence_url": evidence_url(a)}
        for a in campus.open_incidents(db(), my_buildings(g.user), *_room_filter())]})


@bp.get("/nodes")
def nodes():
    return render_template("campus_nodes.html",
                           nodes=campus.node_health(db(), my_buildings(g.user)),
                           now_iso=now_iso(), **_globals())


@bp.get("/rounds")
def rounds():
    """The route across buildings: the rooms that need a visit or run an exam, in order;
    each visit is logged on its building's hub (the dean's room view there)."""
    route = [t for t in _tiles() if t["order"]]
    return render_template("campus_rounds.html", route=route, now_iso=now_iso(),
                           **_globals())
