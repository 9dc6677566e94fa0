"""The audit log: who did what to what, from where."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hub.store.db import now_iso
from hub.store.users import User


def record(conn: sqlite3.Connection, user: User | None, action: str, target: str = "",
           building: str | None = None, room: str | None = None,
           detail: dict[str, Any] | None = None, remote_addr: str = "") -> None:
    conn.execute("INSERT INTO audit (at, user_id, username, role, action, target, building,"
                 " room, detail, remote_addr) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (now_iso(), user.id if user else None, user.username if user else "",
                  user.role if user else "", action, target, building, room,
                  json.dumps(detail or {}, ensure_ascii=False), remote_addr))


def entries(conn: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    """The latest entries, newest first."""
    return conn.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
