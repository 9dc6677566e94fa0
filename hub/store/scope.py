"""Which exam session an alert belongs to, and which sessions a proctor holds now.

The exam is the boundary of what a proctor sees: a room holds one exam after another, and
the proctor of the next exam must not see the alerts, evidence or protocols of the previous
one. An alert belongs to the session the node said it ran (``alerts.session_id``, the hub's
session id as the hub's ``start_session`` gave it), if that session is in the alert's room;
else (a session started on the node itself, an older node) to the room's session whose time
holds the alert's trusted start (``hub.clocks``).

An exam may run past its scheduled end: while a session is the one running in its room
(started and not stopped, ``hub.store.sessions.running_in_room``), its window reaches to now,
so its proctor keeps seeing its new alerts.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.store.db import iso_seconds

# Whether session row ``s`` is the one running in its room (as ``sessions.running_in_room``).
RUNNING = (
    "(s.started_at IS NOT NULL AND s.stopped_at IS NULL AND NOT EXISTS ("
    "SELECT 1 FROM sessions r WHERE r.building = s.building AND r.room = s.room"
    " AND r.started_at IS NOT NULL AND r.stopped_at IS NULL AND r.started_at > s.started_at))")

# The session of the alert row ``a`` (an SQL expression; NULL: no session of its room).
ALERT_SESSION = (
    "COALESCE("
    "(SELECT s.id FROM sessions s WHERE CAST(s.id AS TEXT) = a.session_id"
    " AND s.building = a.building AND s.room = a.room),"
    "(SELECT s.id FROM sessions s WHERE s.building = a.building AND s.room = a.room"
    " AND s.starts_at <= substr(a.trusted_started_at, 1, 19) || 'Z'"
    " AND (s.ends_at > substr(a.trusted_started_at, 1, 19) || 'Z' OR " + RUNNING + ")"
    " ORDER BY (s.started_at IS NOT NULL) DESC, s.starts_at DESC LIMIT 1))")


@dataclass(frozen=True)
class SessionWindow:
    """One of a proctor's sessions: its id, room and time (UTC ISO to the second)."""

    id: int
    building: str
    room: str
    starts_at: str
    ends_at: str


def proctor_sessions(conn: sqlite3.Connection, user_id: int,
                     at: datetime | None = None) -> list[SessionWindow]:
    """The proctor's sessions whose time holds ``at`` (default now): begun, and not yet at
    their scheduled end or still running in their room."""
    now = iso_seconds(at or datetime.now(UTC))
    rows = conn.execute("SELECT s.id, s.building, s.room, s.starts_at, s.ends_at FROM sessions s"
                        " JOIN session_proctors p ON p.session_id = s.id WHERE p.user_id = ?"
                        f" AND s.starts_at <= ? AND (s.ends_at > ? OR {RUNNING}) ORDER BY s.id",
                        (user_id, now, now)).fetchall()
    return [SessionWindow(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def alert_session(conn: sqlite3.Connection, alert_id: str) -> int | None:
    """The session ``alert_id`` belongs to (None: no alert, or no session of its room)."""
    row = conn.execute(f"SELECT {ALERT_SESSION} FROM alerts a WHERE a.alert_id = ?",
                       (alert_id,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])
