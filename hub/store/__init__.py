"""All of the hub's SQL lives in this package (and nowhere else).

* ``migrations``: the versioned schema, migrations as decorated functions.
* ``messages``: what the ingest writer does with each validated MQTT message.
* ``queries``: reads for the pages.
* ``accounts``: users, rooms and seat maps, exam sessions, the audit log, proctor actions.

Connections are plain ``sqlite3`` in autocommit mode (``isolation_level=None``) with WAL;
writes happen in explicit transactions. In the hub process only the writer thread
(``hub.writer``) writes; pages read with their own read-only connections.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the hub's pragmas; ``readonly`` refuses writes (page requests)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                           timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    if readonly:
        conn.execute("PRAGMA query_only=1")
    return conn


def open_database(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the hub database in WAL mode, migrated to the latest
    version unless ``migrate`` is false."""
    from hub.store.migrations import migrate as run_migrations

    db = sqlite_utils.Database(connect(path), execute_plugins=False)
    db.enable_wal()
    if migrate:
        run_migrations(db)
    return db


def now_iso() -> str:
    """The hub's own timestamps: UTC ISO 8601 with milliseconds and ``Z`` (sortable)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(dt: datetime | None) -> str | None:
    """A node's aware datetime as the same UTC ISO form."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
