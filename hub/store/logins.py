"""Who is signed in: one row per login, so a login can be ended on the server.

The browser's signed cookie holds a random token; the table holds its sha256 (a copy of the
database opens no session). Every request looks its token up: a logout ends that login; a
password change or a deactivation ends every login of that user at once; a login is over
``max_age_s`` after it began, however busy (the idle limit is the web app's, in the cookie).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta

from hub.store import users
from hub.store.db import iso, now_iso
from hub.store.users import User

KEEP_ENDED_DAYS = 30


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(conn: sqlite3.Connection, user_id: int, now: float | None = None) -> str:
    """A new login for ``user_id`` at ``now`` (seconds since the epoch; default: the time
    now); returns its token (for the cookie only). Logins a month old are forgotten."""
    token = secrets.token_urlsafe(32)
    when = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    conn.execute("INSERT INTO web_logins (token_hash, user_id, started_at) VALUES (?, ?, ?)",
                 (_hash(token), user_id, iso(when)))
    conn.execute("DELETE FROM web_logins WHERE started_at < ?",
                 (iso(when - timedelta(days=KEEP_ENDED_DAYS)),))
    return token


def user_for(conn: sqlite3.Connection, token: str, max_age_s: float,
             now: float | None = None) -> User | None:
    """The user of a login that has not ended, is younger than ``max_age_s`` at ``now``
    (seconds since the epoch; default: the time now), and whose user is active; else
    ``None``."""
    row = conn.execute("SELECT user_id, started_at FROM web_logins WHERE token_hash = ?"
                       " AND ended_at IS NULL", (_hash(token),)).fetchone()
    if row is None:
        return None
    started = datetime.fromisoformat(row["started_at"].replace("Z", "+00:00"))
    now = datetime.now(UTC).timestamp() if now is None else now
    if now - started.timestamp() >= max_age_s:
        return None
    return users.get_user(conn, row["user_id"])


def end(conn: sqlite3.Connection, token: str, why: str) -> None:
    conn.execute("UPDATE web_logins SET ended_at = ?, ended_why = ? WHERE token_hash = ?"
                 " AND ended_at IS NULL", (now_iso(), why, _hash(token)))


def end_all(conn: sqlite3.Connection, user_id: int, why: str) -> int:
    """End every login of ``user_id``; returns how many were open."""
    cur = conn.execute("UPDATE web_logins SET ended_at = ?, ended_why = ? WHERE user_id = ?"
                       " AND ended_at IS NULL", (now_iso(), why, user_id))
    return cur.rowcount


def open_count(conn: sqlite3.Connection, user_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM web_logins WHERE user_id = ? AND ended_at IS NULL",
                        (user_id,)).fetchone()[0]


def change_password(conn: sqlite3.Connection, user_id: int, password: str,
                    now: float | None = None) -> str:
    """Set the user's password, end all their logins (a copied cookie too) and start one for
    the browser that changed it: returns its token."""
    users.set_password(conn, user_id, password)
    end_all(conn, user_id, "password")
    return start(conn, user_id, now)


def set_password(conn: sqlite3.Connection, username: str, password: str) -> int:
    """The administrator's reset (``kuzet hub user passwd``): ends the user's logins."""
    user_id = users.id_of(conn, username)
    users.set_password(conn, user_id, password)
    return end_all(conn, user_id, "password")


def set_active(conn: sqlite3.Connection, username: str, active: bool) -> int:
    """(De)activate a user; a deactivated user's logins end and they cannot log in."""
    user_id = users.id_of(conn, username)
    users.set_active(conn, user_id, active)
    return 0 if active else end_all(conn, user_id, "deactivated")
