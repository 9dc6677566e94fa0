"""Users, rooms and seat maps, exam sessions, the audit log, and the proctor's actions.

Passwords are stored as werkzeug hashes (scrypt). Exam sessions are minimal here (room,
proctor, start, end): issue 5 extends them with the discipline, group and roster.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from hub.bus import Event
from hub.store import now_iso
from hub.store.messages import alert_event

ROLES = ("proctor", "dean", "technician", "admin")
DISMISS_REASONS = ("allowed_aid", "detection_error", "proctor_nearby", "wrong_seat", "other")
_DUMMY_HASH = generate_password_hash("not a password")


class ActionRefused(ValueError):
    """A proctor action that cannot apply (e.g. the alert is already decided)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    display_name: str


def _user(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    return User(row["id"], row["username"], row["role"], row["display_name"])


def add_user(conn: sqlite3.Connection, username: str, password: str, role: str,
             display_name: str = "", *, password_hash: str | None = None) -> int:
    """A new user; ``password_hash`` (a werkzeug hash of ``password``) skips the hashing."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    if not username or len(username) > 100:
        raise ValueError("a user name needs 1 to 100 characters")
    cur = conn.execute("INSERT INTO users (username, password_hash, role, display_name,"
                       " created_at) VALUES (?, ?, ?, ?, ?)",
                       (username, password_hash or generate_password_hash(password), role,
                        display_name, now_iso()))
    return int(cur.lastrowid)


def set_password(conn: sqlite3.Connection, username: str, password: str) -> None:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    cur = conn.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                       (generate_password_hash(password), username))
    if cur.rowcount == 0:
        raise ValueError(f"no user {username!r}")


def get_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE id = ? AND active = 1",
                              (user_id,)).fetchone())


def check_login(conn: sqlite3.Connection, username: str, password: str) -> User | None:
    """The user if the password is right (same work whether or not the user exists)."""
    row = conn.execute("SELECT * FROM users WHERE username = ? AND active = 1",
                       (username,)).fetchone()
    ok = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, password)
    return _user(row) if ok and row else None


def load_seatmap(conn: sqlite3.Connection, building: str, room: str, seatmap: dict[str, Any],
                 title: str = "") -> None:
    """Store a room's seat map (JSON as edge/seats.py ``SeatMapSpec``; validated there)."""
    from edge.seats import SeatMapSpec

    spec = SeatMapSpec.model_validate(seatmap)
    conn.execute("INSERT INTO rooms VALUES (?, ?, ?, ?, ?) ON CONFLICT(building, room) DO"
                 " UPDATE SET title = excluded.title, seatmap = excluded.seatmap,"
                 " updated_at = excluded.updated_at",
                 (building, room, title, spec.model_dump_json(), now_iso()))


def add_session(conn: sqlite3.Connection, building: str, room: str, proctor: str,
                starts_at: datetime, ends_at: datetime, title: str = "",
                created_by: int | None = None) -> int:
    """An exam session: ``proctor`` (a username with the proctor role) may see the room
    from ``starts_at`` to ``ends_at`` (aware datetimes)."""
    row = conn.execute("SELECT id, role FROM users WHERE username = ?", (proctor,)).fetchone()
    if row is None or row["role"] != "proctor":
        raise ValueError(f"{proctor!r} is not a proctor")
    if starts_at.tzinfo is None or ends_at.tzinfo is None or ends_at <= starts_at:
        raise ValueError("a session needs an aware start before its end")
    cur = conn.execute(
        "INSERT INTO sessions (building, room, proctor_id, title, starts_at, ends_at,"
        " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (building, room, row["id"], title, _utc(starts_at), _utc(ends_at), created_by,
         now_iso()))
    conn.execute("INSERT INTO session_proctors VALUES (?, ?)", (cur.lastrowid, row["id"]))
    return int(cur.lastrowid)


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def proctor_rooms(conn: sqlite3.Connection, user_id: int,
                  at: datetime | None = None) -> list[tuple[str, str]]:
    """The rooms of the proctor's sessions running at ``at`` (default now)."""
    now = _utc(at or datetime.now(UTC))
    rows = conn.execute("SELECT DISTINCT s.building, s.room FROM sessions s"
                        " JOIN session_proctors p ON p.session_id = s.id WHERE p.user_id = ?"
                        " AND s.starts_at <= ? AND s.ends_at > ? ORDER BY 1, 2",
                        (user_id, now, now)).fetchall()
    return [(r[0], r[1]) for r in rows]


def audit(conn: sqlite3.Connection, user: User | None, action: str, target: str = "",
          building: str | None = None, room: str | None = None,
          detail: dict[str, Any] | None = None, remote_addr: str = "") -> None:
    conn.execute("INSERT INTO audit (at, user_id, username, role, action, target, building,"
                 " room, detail, remote_addr) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (now_iso(), user.id if user else None, user.username if user else "",
                  user.role if user else "", action, target, building, room,
                  json.dumps(detail or {}, ensure_ascii=False), remote_addr))


def _decision(conn: sqlite3.Connection, alert_id: str) -> str:
    row = conn.execute("SELECT decision FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
    if row is None:
        raise ActionRefused("no such alert")
    return row[0]


def acknowledge(conn: sqlite3.Connection, alert_id: str, user: User) -> list[Event]:
    """I am on it. Only a new alert can be acknowledged; doing it twice changes nothing."""
    if _decision(conn, alert_id) != "new":
        return []
    conn.execute("UPDATE alerts SET decision='acknowledged', ack_by=?, ack_at=?,"
                 " version = version + 1 WHERE alert_id=?", (user.id, now_iso(), alert_id))
    return [alert_event(conn, alert_id)]


def decide(conn: sqlite3.Connection, alert_id: str, user: User, decision: str,
           reason: str | None = None) -> list[Event]:
    """Dismiss as a false alarm (with a reason from DISMISS_REASONS) or confirm as a
    violation. Final: a decided alert cannot be decided again here."""
    if decision not in ("dismissed", "confirmed"):
        raise ActionRefused(f"unknown decision {decision!r}")
    if decision == "dismissed" and reason not in DISMISS_REASONS:
        raise ActionRefused("a dismissal needs a reason from the list")
    current = _decision(conn, alert_id)
    if current in ("dismissed", "confirmed"):
        raise ActionRefused(f"already {current}")
    now = now_iso()
    conn.execute("UPDATE alerts SET decision=?, decided_by=?, decided_at=?, dismiss_reason=?,"
                 " ack_by=COALESCE(ack_by, ?), ack_at=COALESCE(ack_at, ?),"
                 " version = version + 1 WHERE alert_id=?",
                 (decision, user.id, now, reason if decision == "dismissed" else None,
                  user.id, now, alert_id))
    return [alert_event(conn, alert_id)]


def add_note(conn: sqlite3.Connection, alert_id: str, user: User, text: str) -> list[Event]:
    text = text.strip()
    if not text:
        raise ActionRefused("an empty note")
    _decision(conn, alert_id)
    conn.execute("INSERT INTO alert_notes (alert_id, user_id, text, at) VALUES (?,?,?,?)",
                 (alert_id, user.id, text[:2000], now_iso()))
    conn.execute("UPDATE alerts SET version = version + 1 WHERE alert_id=?", (alert_id,))
    return [alert_event(conn, alert_id)]


def log_round(conn: sqlite3.Connection, user: User, building: str, room: str,
              note: str = "") -> None:
    """The dean visited the room (regulation 4.4)."""
    conn.execute("INSERT INTO rounds (dean_id, building, room, at, note) VALUES (?,?,?,?,?)",
                 (user.id, building, room, now_iso(), note[:1000]))
