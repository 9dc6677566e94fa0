"""Who is signed in: one row per login, so a login can be ended on the server.

The browser's signed cookie holds a random token; the table holds its sha256 (a copy of the
database opens no session). Every request looks its token up: a logout ends that login; a
password change or a deactivation ends every login of that user at once; a login is over
``max_age_s`` after it began, however busy, and idle once the server has not seen it used
for ``idle_s`` (``last_seen_at``, moved by ``touch`` at most every ``touch_every``: a copy of
the cookie cannot make the login look idle or busy by what its own cookie says).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.store import users
from hub.store.db import iso, now_iso
from hub.store.users import User

KEEP_ENDED_DAYS = 30


@dataclass(frozen=True)
class Login:
    """An open login as a request finds it: its user (``None``: ended, too old, idle or the
    user inactive), whether it is idle, and when the server last saw it (seconds)."""

    user: User | None
    idle: bool = False
    last_seen: float = 0.0


def touch_every(idle_s: float) -> float:
    """How often a busy login's ``last_seen_at`` is written: once a minute, more often only
    for an idle limit of a few minutes."""
    return min(60.0, idle_s / 4)


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(conn: sqlite3.Connection, user_id: int, now: float | None = None) -> str:
    """A new login for ``user_id`` at ``now`` (seconds since the epoch; default: the time
    now); returns its token (for the cookie only). Logins a month old are forgotten."""
    token = secrets.token_urlsafe(32)
    when = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    conn.execute("INSERT INTO web_logins (token_hash, user_id, started_at, last_seen_at)"
                 " VALUES (?, ?, ?, ?)", (_hash(token), user_id, iso(when), iso(when)))
    conn.execute("DELETE FROM web_logins WHERE started_at < ?",
                 (iso(when - timedelta(days=KEEP_ENDED_DAYS)),))
    return token


def user_for(conn: sqlite3.Connection, token: str, max_age_s: float,
             now: float | None = None) -> User | None:
    """The user of a login that has not ended, is younger than ``max_age_s`` at ``now``
    (seconds since the epoch; default: the time now), and whose user is active; else
    ``None`` (idleness is ``find``'s)."""
    return find(conn, token, max_age_s, None, now).user


def find(conn: sqlite3.Connection, token: str, max_age_s: float, idle_s: float | None,
         now: float | None = None) -> Login:
    """The login of ``token`` at ``now`` (default: the time now): its user if it has not
    ended, is younger than ``max_age_s``, was seen within ``idle_s`` (``None``: no idle
    limit) and its user is active."""
    row = conn.execute("SELECT w.started_at, w.last_seen_at, u.id, u.username, u.role,"
                       " u.display_name FROM web_logins w LEFT JOIN users u"
                       " ON u.id = w.user_id AND u.active = 1"      # as users.get_user
                       " WHERE w.token_hash = ? AND w.ended_at IS NULL",
                       (_hash(token),)).fetchone()                  # one query per request
    if row is None:
        return Login(None)
    now = datetime.now(UTC).timestamp() if now is None else now
    seen = _seconds(row["last_seen_at"] or row["started_at"])
    if now - _seconds(row["started_at"]) >= max_age_s:
        return Login(None, last_seen=seen)
    if idle_s is not None and now - seen >= idle_s:
        return Login(None, idle=True, last_seen=seen)
    user = None if row["id"] is None else User(row["id"], row["username"], row["role"],
                                               row["display_name"])
    return Login(user, last_seen=seen)


def touch(conn: sqlite3.Connection, token: str, now: float) -> None:
    """The login was used at ``now`` (seconds since the epoch); an ended login stays ended,
    and a later sighting already written is kept."""
    conn.execute("UPDATE web_logins SET last_seen_at = ? WHERE token_hash = ? AND ended_at"
                 " IS NULL AND last_seen_at < ?",
                 (iso(datetime.fromtimestamp(now, UTC)), _hash(token),
                  iso(datetime.fromtimestamp(now, UTC))))


def end_idle(conn: sqlite3.Connection, token: str, idle_s: float, now: float) -> None:
    """End the login as idle, if it still is at ``now`` (a request on another copy of the
    cookie may have just used it)."""
    cutoff = iso(datetime.fromtimestamp(now - idle_s, UTC))
    conn.execute("UPDATE web_logins SET ended_at = ?, ended_why = 'idle' WHERE token_hash = ?"
                 " AND ended_at IS NULL AND COALESCE(last_seen_at, started_at) <= ?",
                 (now_iso(), _hash(token), cutoff))


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
