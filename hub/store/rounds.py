"""The dean's rounds (clause 4.4): a visit logged, a tile per room (live state, open
high-severity alerts, last visit and by whom, proctors on duty) in the suggested order of
visits, the building's exams in progress, and the day report."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from hub import triage
from hub.store import nodes
from hub.store import sessions as exam_sessions
from hub.store.db import now_iso
from hub.store.rooms import all_rooms
from hub.store.users import User
from kuzet.contract import Rule

# The rules whose open, undecided alert sends the dean to the room: every rule above the
# advisory posture cues in the proctor's triage order (hub.triage), worst first.
HIGH_SEVERITY_RULES = tuple(r.value for r in sorted(Rule, key=triage.rank)
                            if triage.group(r) != "advisory")
VISIT_DUE_S = 3600.0          # an exam in progress unvisited this long needs a visit
QUIET_WINDOW_S = 12 * 3600.0  # without an exam, the alerts of the last 12 hours count


def log_round(conn: sqlite3.Connection, user: User, building: str, room: str,
              note: str = "") -> None:
    """The dean visited the room (regulation 4.4)."""
    conn.execute("INSERT INTO rounds (dean_id, building, room, at, note) VALUES (?,?,?,?,?)",
                 (user.id, building, room, now_iso(), note[:1000]))


def _last_visit(conn: sqlite3.Connection, building: str,
                room: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT r.at, u.username, u.display_name FROM rounds r"
                       " JOIN users u ON u.id = r.dean_id WHERE r.building=? AND r.room=?"
                       " ORDER BY r.at DESC, r.id DESC LIMIT 1", (building, room)).fetchone()
    if row is None:
        return None
    return {"at": row["at"], "by": row["display_name"] or row["username"]}


def _mine(buildings: Collection[str] | None, building: str) -> bool:
    return buildings is None or building in buildings


def _epoch(iso_: str) -> float:
    return datetime.fromisoformat(iso_.replace("Z", "+00:00")).timestamp()


def _counts(conn: sqlite3.Connection, building: str, room: str, since: float) -> dict[str, int]:
    marks = ",".join("?" * len(HIGH_SEVERITY_RULES))
    a = conn.execute(
        "SELECT SUM(status='open' AND decision IN ('new','acknowledged') AND advisory=0"
        f" AND rule IN ({marks})),"
        " SUM(status='open' AND decision IN ('new','acknowledged')),"
        " SUM(decision='confirmed'), SUM(decision='dismissed') FROM alerts"
        " WHERE building=? AND room=? AND received_at >= ?",
        (*HIGH_SEVERITY_RULES, building, room, since)).fetchone()
    return {"high": a[0] or 0, "open": a[1] or 0, "confirmed": a[2] or 0, "dismissed": a[3] or 0}


def _titles(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    return {(r[0], r[1]): r[2] for r in conn.execute("SELECT building, room, title FROM rooms")}


def visit_order(tile: dict[str, Any]) -> tuple:
    """The suggested order of visits: rooms that need one first; among them open
    high-severity alerts (most first), then open alerts; then rooms with an exam in progress
    never visited, then the longest unvisited; rooms without an exam last."""
    return (not tile["needs_visit"], not tile["exams"], -tile["high"], -tile["open"],
            not tile["never_visited"], -tile["unvisited_s"], tile["building"], tile["room"])


def tiles(conn: sqlite3.Connection, now: float,
          buildings: Collection[str] | None = None) -> list[dict[str, Any]]:
    """A tile per room (of ``buildings``, if given), in the suggested order of visits: its
    exam in progress (title, end, started on the node), proctors on duty, node liveness,
    open high-severity / open / confirmed / dismissed alerts (of the exams in progress, else
    of the last ``QUIET_WINDOW_S``), the last visit (when, by whom), whether it needs a visit
    (``needs``: ``alerts``, ``due``) and, for rooms with an exam, its place on the route."""
    running: dict[tuple[str, str], list[dict[str, Any]]] = {}
    now_iso_ = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
    for s in exam_sessions.running_now(conn, now_iso_):
        running.setdefault((s["building"], s["room"]), []).append(s)
    titles = _titles(conn)
    out = []
    for building, room in all_rooms(conn):
        if not _mine(buildings, building):
            continue
        exams = sorted(running.get((building, room), []),
                       key=lambda e: (e.get("started_at") is None, e["starts_at"]))
        since = (min(_epoch(e["starts_at"]) for e in exams) if exams
                 else now - QUIET_WINDOW_S)
        last = _last_visit(conn, building, room)
        unvisited = now - (_epoch(last["at"]) if last else since) if exams else 0.0
        counts = _counts(conn, building, room, since)
        needs = (["alerts"] if counts["high"] else []) + \
            (["due"] if exams and unvisited >= VISIT_DUE_S else [])
        exam = exams[0] if exams else None
        out.append({
            "building": building, "room": room, "title": titles.get((building, room), ""),
            "exams": exams,
            "exam": None if exam is None else {
                "title": exam.get("discipline") or exam.get("title") or "",
                "ends_at": exam["ends_at"], "left_s": max(0.0, _epoch(exam["ends_at"]) - now),
                "started": bool(exam.get("started_at") and not exam.get("stopped_at"))},
            "proctors": sorted({p for e in exams for p in e["proctors"]}),
            "health": nodes.room_liveness(conn, building, room),
            **counts,
            "last_visit": last,
            "last_visit_ago_s": now - _epoch(last["at"]) if last else None,
            "unvisited_s": unvisited, "never_visited": last is None,
            "needs": needs, "needs_visit": bool(needs),
        })
    out.sort(key=visit_order)
    route = [t for t in out if t["exams"]]
    for t in out:
        t["order"] = route.index(t) + 1 if t["exams"] else None
    return out


def building_screen(conn: sqlite3.Connection, now: float,
                    buildings: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The rounds route: every room (of ``buildings``, if given) with an exam in progress,
    numbered (``order``) in the suggested order of visits (``visit_order``)."""
    return [t for t in tiles(conn, now, buildings) if t["exams"]]


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
