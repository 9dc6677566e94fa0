"""Users: their roles, passwords (werkzeug hashes, scrypt) and logging in."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from hub.store.db import now_iso
from kuzet.contract import NAME_RE

ROLES = ("proctor", "dean", "technician", "admin", "office")   # office: the campus hub's
_DUMMY_HASH = generate_password_hash("not a password")


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


def check_buildings(role: str, buildings: Collection[str]) -> None:
    """A dean oversees at least one building, and only a dean oversees any."""
    if (role == "dean") != bool(buildings):
        raise ValueError("a dean needs the buildings they oversee (and only a dean has any)")


def add_with_buildings(conn: sqlite3.Connection, username: str, password: str, role: str,
                       display_name: str, buildings: Collection[str]) -> int:
    """The user and a dean's buildings (``check_buildings``), in the caller's one
    transaction: a refusal adds nothing."""
    check_buildings(role, buildings)
    uid = add_user(conn, username, password, role, display_name)
    if buildings:
        set_buildings(conn, uid, list(buildings))
    return uid


def get_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE id = ? AND active = 1",
                              (user_id,)).fetchone())


def check_login(conn: sqlite3.Connection, username: str, password: str) -> User | None:
    """The user if the password is right (same work whether or not the user exists)."""
    row = conn.execute("SELECT * FROM users WHERE username = ? AND active = 1",
                       (username,)).fetchone()
    ok = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, password)
    return _user(row) if ok and row else None


def listing(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every user (no password hashes), by name: the admin's list."""
    return conn.execute("SELECT id, username, role, display_name, active, created_at"
                        " FROM users ORDER BY username").fetchall()


def buildings(conn: sqlite3.Connection, user_id: int) -> list[str]:
    """The buildings a dean oversees (a dean with none sees no building)."""
    return [r[0] for r in conn.execute("SELECT building FROM user_buildings WHERE user_id = ?"
                                       " ORDER BY building", (user_id,))]


def set_buildings(conn: sqlite3.Connection, user_id: int, names: list[str]) -> None:
    """Give a dean the buildings they oversee (replacing the list); only deans have one."""
    row = conn.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None or row["role"] != "dean":
        raise ValueError("only a dean oversees buildings")
    bad = [n for n in names if not NAME_RE.match(n)]
    if bad:
        raise ValueError(f"bad building name {bad[0]!r}")
    conn.execute("DELETE FROM user_buildings WHERE user_id = ?", (user_id,))
    conn.executemany("INSERT OR IGNORE INTO user_buildings VALUES (?, ?)",
                     [(user_id, n) for n in names])


def id_of(conn: sqlite3.Connection, username: str) -> int:
    row = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        raise ValueError(f"no user {username!r}")
    return int(row[0])


def set_password(conn: sqlite3.Connection, user_id: int, password: str) -> None:
    """A new password (ending the user's logins is ``hub.store.logins``' part)."""
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    conn.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                 (generate_password_hash(password), user_id))


def set_active(conn: sqlite3.Connection, user_id: int, active: bool) -> None:
    """An inactive user cannot log in and no page loads for them (``get_user``)."""
    conn.execute("UPDATE users SET active = ? WHERE id = ?", (1 if active else 0, user_id))
