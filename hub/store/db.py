"""The hub database's connections, the one way a transaction is written, and its timestamps.

Connections are plain ``sqlite3`` in autocommit mode (``isolation_level=None``) with WAL;
writes happen in explicit transactions (``transaction``). In the hub process only the writer
thread (``hub.writer``) writes; pages read with their own read-only connections.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


def connect(path: str | Path, *, readonly: bool = False,
            durable: bool = False) -> sqlite3.Connection:
    """A connection with the hub's pragmas; ``readonly`` refuses writes (page requests);
    ``durable`` makes every commit wait for the disk (``synchronous=FULL``: the writer's)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                           timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
    if readonly:
        conn.execute("PRAGMA query_only=1")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; anything raised inside (or by the commit) rolls the
    whole transaction back and is raised again."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A part of the open transaction that can fail alone: an ``Exception`` raised inside
    undoes only this part, and is raised again. An ``OSError`` or ``sqlite3.OperationalError``
    (the disk, not the work) is raised as it is, for the whole transaction to roll back."""
    conn.execute("SAVEPOINT part")
    try:
        yield conn
    except (OSError, sqlite3.OperationalError):
        raise
    except Exception:
        conn.execute("ROLLBACK TO part")
        conn.execute("RELEASE part")
        raise
    conn.execute("RELEASE part")


def now_iso() -> str:
    """The hub's own timestamps: UTC ISO 8601 with milliseconds and ``Z`` (sortable)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(dt: datetime | None) -> str | None:
    """A node's aware datetime as the same UTC ISO form."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_seconds(dt: datetime) -> str:
    """An aware datetime as UTC ISO 8601 to the second with ``Z`` (sessions' times)."""
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
