"""A proctor's presence at a seat: "I am at this seat" on the tablet.

The proctor standing by a student is a second person at the seat; while they are marked
there (until ``until``), the seat's outside-help rules (``contract.OUTSIDE_HELP_RULES``) are
quiet on the node, which a ``proctor_present`` command tells. Every writing function runs in
the writer's transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from hub.store import rooms, sessions
from kuzet import contract


class PresenceRefused(ValueError):
    """A presence that cannot be marked (no running session, a seat not in the map)."""


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seat_ids(conn: sqlite3.Connection, building: str, room: str) -> set[str]:
    """The seats of the room's seat map (none without a map)."""
    seatmap = (rooms.room(conn, building, room) or {}).get("seatmap") or {}
    return {s["id"] for s in seatmap.get("seats", [])}


def mark(conn: sqlite3.Connection, building: str, room: str, seat: str, user_id: int,
         quiet_s: float, now: datetime) -> tuple[str, list[tuple[str, bytes, str]]]:
    """Mark ``user_id`` present at ``seat`` of the session running in the room for
    ``quiet_s`` seconds from ``now``: a row here and a ``proctor_present`` command per node.
    Returns ``(until, commands)``; ``PresenceRefused`` without a running session that
    ``user_id`` proctors, or for a seat not in the room's seat map."""
    session_id = sessions.running_in_room(conn, building, room)
    if session_id is None or not sessions.is_proctor(conn, session_id, user_id):
        raise PresenceRefused("no exam of yours is running in this room")
    if seat not in seat_ids(conn, building, room):
        raise PresenceRefused(f"seat {seat} is not in the room's seat map")
    at, until = _iso(now), _iso(now + timedelta(seconds=quiet_s))
    conn.execute("INSERT INTO seat_presence (session_id, building, room, seat, user_id, at,"
                 " until) VALUES (?,?,?,?,?,?,?)",
                 (session_id, building, room, seat, user_id, at, until))
    cmd = contract.CommandMessage(action=contract.Action.PRESENCE, seat=seat,
                                  quiet_s=quiet_s, session_id=str(session_id))
    return until, sessions.queue_commands(conn, building, room, cmd, session_id, at)


def until(conn: sqlite3.Connection, building: str, room: str, seat: str,
          at: datetime) -> str | None:
    """Until when a proctor is marked at ``seat`` of the room's running session, if they are
    at ``at`` (UTC ISO), else None."""
    session_id = sessions.running_in_room(conn, building, room)
    if session_id is None:
        return None
    row = conn.execute("SELECT MAX(until) FROM seat_presence WHERE session_id=? AND"
                       " building=? AND room=? AND seat=? AND at<=? AND until>?",
                       (session_id, building, room, seat, _iso(at), _iso(at))).fetchone()
    return row[0]
