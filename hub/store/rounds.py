"""The dean's rounds (clause 4.4): a visit logged, every room at a glance, the building's
exams in progress with what needs a visit, and the day report."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Any

from hub.store import nodes
from hub.store import sessions as exam_sessions
from hub.store.db import now_iso
from hub.store.rooms import all_rooms
from hub.store.users import User


def log_round(conn: sqlite3.Connection, user: User, building: str, room: str,
              note: str = "") -> None:
    """The dean visited the room (regulation 4.4)."""
    conn.execute("INSERT INTO rounds (dean_id, building, room, at, note) VALUES (?,?,?,?,?)",
                 (user.id, building, room, now_iso(), note[:1000]))


def _last_visit(conn: sqlite3.Connection, building: str, room: str) -> str | None:
    return conn.execute("SELECT MAX(at) FROM rounds WHERE building=? AND room=?",
                        (building, room)).fetchone()[0]


def _mine(buildings: Collection[str] | None, building: str) -> bool:
    return buildings is None or building in buildings


def overview(conn: sqlite3.Connection, since_epoch: float,
             buildings: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every room (of ``buildings``, if given) at a glance for the dean: open and confirmed
    alerts, nodes, last round."""
    out = []
    for building, room_ in all_rooms(conn):
        if not _mine(buildings, building):
            continue
        a = conn.execute(
            "SELECT SUM(status='open' AND decision IN ('new','acknowledged')),"
            " SUM(decision='confirmed'), COUNT(*) FROM alerts"
            " WHERE building=? AND room=? AND received_at >= ?",
            (building, room_, since_epoch)).fetchone()
        out.append({"building": building, "room": room_, "open": a[0] or 0,
                    "confirmed": a[1] or 0, "total": a[2] or 0,
                    "health": nodes.room_liveness(conn, building, room_),
                    "last_round": _last_visit(conn, building, room_)})
    out.sort(key=lambda r: (-r["open"], -r["confirmed"], r["building"], r["room"]))
    return out


def _epoch(iso_: str) -> float:
    return datetime.fromisoformat(iso_.replace("Z", "+00:00")).timestamp()


def building_screen(conn: sqlite3.Connection, now: float, now_iso_: str,
                    buildings: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every room (of ``buildings``, if given) with an exam in progress, in the suggested
    order of visits: rooms with open alerts first (most first), then the longest unvisited
    (never visited first)."""
    by_room: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in exam_sessions.running_now(conn, now_iso_):
        if not _mine(buildings, s["building"]):
            continue
        by_room.setdefault((s["building"], s["room"]), []).append(s)
    out = []
    for (building, room), exams in by_room.items():
        exams.sort(key=lambda e: (e["started_at"] is None, e["starts_at"]))
        since = min(_epoch(e["starts_at"]) for e in exams)
        a = conn.execute(
            "SELECT SUM(status='open' AND decision IN ('new','acknowledged')),"
            " SUM(decision='confirmed'), SUM(decision='dismissed') FROM alerts"
            " WHERE building=? AND room=? AND received_at >= ?",
            (building, room, since)).fetchone()
        last = _last_visit(conn, building, room)
        proctors = sorted({p for e in exams for p in e["proctors"]})
        out.append({
            "exams": exams, "proctors": proctors, "building": building, "room": room,
            "open": a[0] or 0, "confirmed": a[1] or 0, "dismissed": a[2] or 0,
            "health": nodes.room_liveness(conn, building, room),
            "last_visit": last,
            "unvisited_s": now - (_epoch(last) if last else since),
            "never_visited": last is None,
        })
    out.sort(key=lambda r: (-r["open"], not r["never_visited"], -r["unvisited_s"]))
    for i, r in enumerate(out, 1):
        r["order"] = i
    return out


def day_report(conn: sqlite3.Connection, start_iso: str, end_iso: str,
               buildings: Collection[str] | None = None) -> dict[str, Any]:
    """One day (``[start, end)``, UTC ISO): exams, visits, alerts confirmed and dismissed,
    per room and per proctor (of ``buildings``, if given)."""
    start_e, end_e = _epoch(start_iso), _epoch(end_iso)
    exams = conn.execute("SELECT id FROM sessions WHERE starts_at < ? AND ends_at > ?"
                         " ORDER BY building, room, starts_at", (end_iso, start_iso)).fetchall()
    rooms: dict[tuple[str, str], dict[str, Any]] = {}
    proctors: dict[str, dict[str, int]] = {}
    for r in exams:
        s = exam_sessions.get(conn, r[0])
        if not _mine(buildings, s["building"]):
            continue
        room = rooms.setdefault((s["building"], s["room"]), _room_row(s["building"], s["room"]))
        room["exams"].append(s)
        for p in s["proctors"]:
            proctors.setdefault(p, {"exams": 0, "confirmed": 0, "dismissed": 0})["exams"] += 1
    for v in conn.execute("SELECT r.*, u.username, u.display_name FROM rounds r JOIN users u"
                          " ON u.id = r.dean_id WHERE at >= ? AND at < ? ORDER BY at",
                          (start_iso, end_iso)).fetchall():
        if not _mine(buildings, v["building"]):
            continue
        rooms.setdefault((v["building"], v["room"]),
                         _room_row(v["building"], v["room"]))["visits"].append(dict(v))
    for a in conn.execute("SELECT a.building, a.room, a.decision, u.username, u.display_name"
                          " FROM alerts a LEFT JOIN users u ON u.id = a.decided_by"
                          " WHERE a.received_at >= ? AND a.received_at < ?"
                          " AND a.decision IN ('confirmed', 'dismissed')",
                          (start_e, end_e)).fetchall():
        if not _mine(buildings, a["building"]):
            continue
        room = rooms.setdefault((a["building"], a["room"]), _room_row(a["building"], a["room"]))
        room[a["decision"]] += 1
        who = a["display_name"] or a["username"] or "—"
        proctors.setdefault(who, {"exams": 0, "confirmed": 0, "dismissed": 0})[a["decision"]] += 1
    return {"rooms": [rooms[k] for k in sorted(rooms)],
            "proctors": dict(sorted(proctors.items()))}


def _room_row(building: str, room: str) -> dict[str, Any]:
    return {"building": building, "room": room, "exams": [], "visits": [], "confirmed": 0,
            "dismissed": 0}
