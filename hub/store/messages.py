"""The nodes' messages as such: the ids already seen (a duplicate or a replay changes
nothing), the messages refused as invalid, and the ingest counters."""

from __future__ import annotations

import sqlite3

from hub.store.db import now_iso
from kuzet import contract

BAD_SIGNATURE = "bad signature"        # how the ingest begins a refused signature's reason


def first_time(conn: sqlite3.Connection, msg_id: str, kind: str, now: float) -> bool:
    """Record a message id; False if it was already there (a duplicate or a replay)."""
    cur = conn.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (msg_id, kind, now))
    return cur.rowcount == 1


def forget_seen(conn: sqlite3.Connection, before: float) -> None:
    """Drop the message ids received before ``before`` (epoch seconds)."""
    conn.execute("DELETE FROM seen WHERE received_at < ?", (before,))


def record_rejected(conn: sqlite3.Connection, topic: str, reason: str, keep: int = 1000) -> None:
    """Count an invalid message (a bad signature also as ``bad_signatures``) and keep the
    latest ``keep`` of them for technicians."""
    conn.execute("INSERT INTO counters VALUES ('rejected', 1)"
                 " ON CONFLICT(name) DO UPDATE SET value = value + 1")
    if reason.startswith(BAD_SIGNATURE):
        count(conn, "bad_signatures")
    conn.execute("INSERT INTO rejected (at, topic, reason) VALUES (?, ?, ?)",
                 (now_iso(), topic[:300], reason[:1000]))
    conn.execute("DELETE FROM rejected WHERE id <= (SELECT MAX(id) FROM rejected) - ?", (keep,))


def count(conn: sqlite3.Connection, name: str, n: int = 1) -> None:
    conn.execute("INSERT INTO counters VALUES (?, ?)"
                 " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, n))


def rejected(conn: sqlite3.Connection, limit: int = 50) -> list[sqlite3.Row]:
    """The latest refused messages, newest first."""
    return conn.execute("SELECT * FROM rejected ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def bad_signatures_by_node(conn: sqlite3.Connection) -> dict[tuple[str, str, str], int]:
    """Per node (building, room, node, from the topic): the refused signatures among the
    messages kept in ``rejected``."""
    out: dict[tuple[str, str, str], int] = {}
    for (topic,) in conn.execute("SELECT topic FROM rejected WHERE reason LIKE ?",
                                 (BAD_SIGNATURE + "%",)):
        try:
            o, _ = contract.parse_topic(topic)
        except ValueError:
            continue
        key = (o.building, o.room, o.node)
        out[key] = out.get(key, 0) + 1
    return out


def counters(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute("SELECT name, value FROM counters").fetchall()}
