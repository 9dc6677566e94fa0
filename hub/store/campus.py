"""What the campus hub shows (docs/campus.md): the buildings' rooms as the dean's tiles, the
open incidents across buildings by severity, the nodes' health, and the route of visits.

The campus holds only what the buildings' bridges carry: the nodes' alert messages (open,
update, close) and statuses. A proctor's decision, the exams' timetables, the visits and the
evidence stay in the building's hub; so here "open" is the node's word (the incident still
runs), and an exam "runs" in a room when a node's status names a session.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any

from hub import triage
from hub.store import rounds
from hub.store.alerts import alert_view

INCIDENTS_SHOWN = 300        # the incidents page lists at most this many, the worst first


def _in(buildings: Collection[str] | None, column: str = "building") -> tuple[str, tuple]:
    if buildings is None:
        return "", ()
    marks = ",".join("?" * len(buildings)) or "NULL"
    return f" AND {column} IN ({marks})", tuple(sorted(buildings))


def exam_rooms(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    """The rooms where a node's status names an exam session (and it is not offline)."""
    return {(r[0], r[1]) for r in conn.execute(
        "SELECT DISTINCT building, room FROM nodes WHERE status_session IS NOT NULL"
        " AND status_state IN ('online', 'degraded')")}


def campus_order(tile: dict[str, Any]) -> tuple:
    """Rooms that need a visit (open high-severity incidents) first, then rooms whose node
    runs an exam; among them the most high-severity, then open incidents."""
    return (not tile["needs_visit"], not tile["node_session"], -tile["high"], -tile["open"],
            tile["building"], tile["room"])


def tiles(conn: sqlite3.Connection, now: float,
          buildings: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The dean's tiles (``hub.store.rounds.tiles``) of every room the campus has heard of
    (of ``buildings``, if given), with ``node_session`` (a node there runs an exam), in
    ``campus_order``; ``order`` numbers the route: the rooms that need a visit or run an
    exam."""
    running = exam_rooms(conn)
    out = rounds.tiles(conn, now, buildings)
    for t in out:
        t["node_session"] = (t["building"], t["room"]) in running
    out.sort(key=campus_order)
    route = [t for t in out if t["needs_visit"] or t["node_session"]]
    for t in out:
        t["order"] = route.index(t) + 1 if t in route else None
    return out


def open_incidents(conn: sqlite3.Connection, buildings: Collection[str] | None = None,
                   building: str | None = None, room: str | None = None,
                   limit: int = INCIDENTS_SHOWN) -> list[dict[str, Any]]:
    """The open incidents (the node has not closed them) of ``buildings`` (or one room), in
    triage order: the worst severity first, then the longest running."""
    where, args = _in(buildings)
    if building is not None:
        where += " AND building = ?"
        args += (building,)
    if room is not None:
        where += " AND room = ?"
        args += (room,)
    ids = conn.execute(f"SELECT alert_id FROM alerts WHERE status = 'open'{where}"
                       " ORDER BY started_at LIMIT ?", (*args, limit)).fetchall()
    return triage.order(alert_view(conn, r[0]) for r in ids)


def by_severity(incidents: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The incidents in groups of ``hub.triage.SEVERITY``, worst first; empty groups left out."""
    groups: dict[str, list[dict[str, Any]]] = {g: [] for g in triage.SEVERITY}
    for a in incidents:
        groups[triage.group(a["rule"])].append(a)
    return [(g, items) for g, items in groups.items() if items]


def node_health(conn: sqlite3.Connection,
                buildings: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every node of ``buildings`` as its last status has it: offline first, then degraded;
    with the node's own reasons, since when, the exam it runs and when the campus heard it."""
    where, args = _in(buildings)
    rows = conn.execute(
        "SELECT building, room, node, liveness, status_state, status_since, status_reasons,"
        " status_session, status_version, status_received_at FROM nodes WHERE 1=1"
        f"{where} ORDER BY CASE liveness WHEN 'offline' THEN 0 WHEN 'degraded' THEN 1"
        " ELSE 2 END, building, room, node", args).fetchall()
    return [{"building": r["building"], "room": r["room"], "node": r["node"],
             "liveness": r["liveness"], "since": r["status_since"],
             "reasons": json.loads(r["status_reasons"] or "[]"),
             "session": r["status_session"], "version": r["status_version"],
             "heard_at": r["status_received_at"]} for r in rows]


def buildings_heard(conn: sqlite3.Connection) -> list[str]:
    """The buildings the campus has had a message from."""
    return [r[0] for r in conn.execute(
        "SELECT building FROM nodes UNION SELECT building FROM alerts ORDER BY 1")]
