"""Rooms and their seat maps (JSON as the node's, ``kuzet.contract.SeatMapSpec``)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hub.store.db import now_iso
from kuzet.contract import SeatMapSpec


def load_seatmap(conn: sqlite3.Connection, building: str, room: str, seatmap: dict[str, Any],
                 title: str = "") -> None:
    """Store a room's seat map (validated as a ``SeatMapSpec``)."""
    spec = SeatMapSpec.model_validate(seatmap)
    conn.execute("INSERT INTO rooms VALUES (?, ?, ?, ?, ?) ON CONFLICT(building, room) DO"
                 " UPDATE SET title = excluded.title, seatmap = excluded.seatmap,"
                 " updated_at = excluded.updated_at",
                 (building, room, title, spec.model_dump_json(), now_iso()))


def room(conn: sqlite3.Connection, building: str, room_: str) -> dict[str, Any] | None:
    """A room known to the hub (from a seat map or a node), with its parsed seat map."""
    row = conn.execute("SELECT * FROM rooms WHERE building=? AND room=?",
                       (building, room_)).fetchone()
    if row is None:
        seen = conn.execute("SELECT 1 FROM nodes WHERE building=? AND room=? UNION"
                            " SELECT 1 FROM alerts WHERE building=? AND room=? LIMIT 1",
                            (building, room_, building, room_)).fetchone()
        if seen is None:
            return None
        return {"building": building, "room": room_, "title": "", "seatmap": None}
    return {"building": building, "room": room_, "title": row["title"],
            "seatmap": json.loads(row["seatmap"]) if row["seatmap"] else None}


def all_rooms(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT building, room FROM rooms UNION SELECT building, room FROM nodes"
                        " ORDER BY 1, 2").fetchall()
    return [(r[0], r[1]) for r in rows]


def seatmap_student(conn: sqlite3.Connection, building: str, room_: str,
                    seat: str | None) -> str:
    """The student the room's seat map names at ``seat`` ("" if none)."""
    row = conn.execute("SELECT seatmap FROM rooms WHERE building=? AND room=?",
                       (building, room_)).fetchone()
    if not (row and row[0] and seat):
        return ""
    return next((s.get("student") or "" for s in json.loads(row[0])["seats"]
                 if s["id"] == seat), "")
