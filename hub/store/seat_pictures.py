"""A fresh picture of one seat, asked for by the proctor on the seat page: a snapshot
command to the room's node (recorded as the technician's are, ``nodes.record_snapshot_command``,
so its evidence is taken from that node only), tied to the proctor's exam session so that
only that session's proctors see what came back (``alerts.command_snapshot``)."""

from __future__ import annotations

import sqlite3

from hub.store import nodes
from kuzet import contract


def ask(conn: sqlite3.Connection, origin: contract.Origin,
        session_id: int) -> list[tuple[str, bytes, str]]:
    """Record a snapshot command to ``origin``'s node for ``session_id``; returns it as
    ``(topic, payload, msg_id)`` to publish after commit (``hub.web.node_commands``)."""
    msg = contract.CommandMessage(action=contract.Action.SNAPSHOT)
    nodes.record_snapshot_command(conn, msg, origin)
    conn.execute("UPDATE commands SET session_id = ?, published = 0 WHERE msg_id = ?",
                 (session_id, msg.id))
    return [(contract.topic(origin, "cmd"), contract.encode(msg), msg.id)]


def asked(conn: sqlite3.Connection, command_id: str) -> sqlite3.Row | None:
    """A snapshot command asked for a session (None: no such command, or a technician's)."""
    return conn.execute("SELECT msg_id, building, room, node, session_id, at FROM commands"
                        " WHERE msg_id = ? AND action = 'snapshot' AND session_id IS NOT NULL",
                        (command_id,)).fetchone()


def latest(conn: sqlite3.Connection, building: str, room: str,
           sessions: set[int]) -> sqlite3.Row | None:
    """The newest snapshot that came back for one of ``sessions`` in the room (its evidence
    row, with the command's id as ``alert_id``)."""
    wanted = sorted(sessions)
    marks = ",".join("?" * len(wanted)) or "NULL"
    return conn.execute("SELECT e.* FROM evidence e JOIN commands c ON c.msg_id = e.alert_id"
                        " WHERE c.action = 'snapshot' AND e.kind = 'snapshot'"
                        f" AND c.building = ? AND c.room = ? AND c.session_id IN ({marks})"
                        " ORDER BY e.received_at DESC LIMIT 1",
                        (building, room, *wanted)).fetchone()
