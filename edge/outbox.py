"""The durable outbox: every alert and evidence message is on disk before it is published.

A row is written (and fsynced: ``synchronous=FULL``) before the publisher may send it, and is
deleted only when the broker acknowledges it (PUBACK). After a reconnect or a restart the rows
left are replayed in the order they were written. A power cut or a broker outage loses nothing;
a message may arrive twice (receivers de-duplicate by message id).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.system import boot_id


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    msg_id: str
    topic: str
    payload: bytes
    qos: int
    attachment: str | None = None     # a file whose bytes go into the payload when sent


@dataclass(frozen=True)
class ChainHead:
    """The node's chain of signed records so far: its id, the last number, that record's
    hash."""

    chain_id: str
    seq: int
    hash: str


class Outbox:
    """A FIFO of messages in SQLite (WAL). Safe to share between threads.

    Order and delivery never depend on a clock (rows go out by ``seq``); the clocks only
    stamp the journal, so a clock that jumps changes no message's fate. The journal is aged
    as evidence is: by the monotonic ``clock`` within one ``boot`` (default: the kernel's boot
    id), by ``wall_clock`` only for rows from earlier boots."""

    def __init__(self, path: str | Path, *, wall_clock: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic, boot: str | None = None) -> None:
        self.path = Path(path)
        self._wall = wall_clock
        self._clock = clock
        self.boot = boot if boot is not None else boot_id()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA journal_size_limit=1048576")   # the WAL shrinks back
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " msg_id TEXT NOT NULL UNIQUE,"
            " topic TEXT NOT NULL,"
            " payload BLOB NOT NULL,"
            " qos INTEGER NOT NULL,"
            " created REAL NOT NULL)"
        )
        cols = [r[1] for r in self._db.execute("PRAGMA table_info(outbox)")]
        if "attachment" not in cols:
            self._db.execute("ALTER TABLE outbox ADD COLUMN attachment TEXT")
        # What the node accepted, kept after delivery (pruned after ``[node] journal_days``,
        # see ``prune_journal``): lets a test or a technician check that everything accepted
        # reached the hub.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS journal (msg_id TEXT PRIMARY KEY, topic TEXT NOT NULL,"
            " created REAL NOT NULL)")
        cols = [r[1] for r in self._db.execute("PRAGMA table_info(journal)")]
        if "boot" not in cols:        # rows written before these columns age by the wall clock
            self._db.execute("ALTER TABLE journal ADD COLUMN boot TEXT")
            self._db.execute("ALTER TABLE journal ADD COLUMN created_mono REAL")
        # The head of the node's chain of signed records (``edge.signing``): written in the
        # same transaction as the record it names, so the chain and the outbox never differ.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS chain_head (one INTEGER PRIMARY KEY CHECK (one = 1),"
            " chain_id TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL)")
        self._added = threading.Condition(self._lock)

    def add(self, msg_id: str, topic: str, payload: bytes, qos: int = 1,
            attachment: str | None = None, chain: ChainHead | None = None) -> int:
        """Store one message durably; returns its sequence number. Adding the same id twice
        keeps the first (idempotent). Raises sqlite3.Error when the disk is full.

        ``attachment``: a file (evidence) that the publisher puts into the payload when it
        sends it, so that the file is not stored twice. ``chain``: the signed record's place
        in the node's chain, saved as the chain's head with it (a later head is kept)."""
        now, mono = self._wall(), self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO outbox (msg_id, topic, payload, qos, created,"
                    " attachment) VALUES (?, ?, ?, ?, ?, ?)",
                    (msg_id, topic, payload, qos, now, attachment))
                self._db.execute("INSERT OR IGNORE INTO journal (msg_id, topic, created, boot,"
                                 " created_mono) VALUES (?, ?, ?, ?, ?)",
                                 (msg_id, topic, now, self.boot, mono))
                if chain is not None:
                    self._db.execute(
                        "INSERT INTO chain_head VALUES (1, ?, ?, ?) ON CONFLICT(one) DO UPDATE"
                        " SET chain_id = excluded.chain_id, seq = excluded.seq,"
                        " hash = excluded.hash WHERE excluded.chain_id != chain_id"
                        " OR excluded.seq > seq", (chain.chain_id, chain.seq, chain.hash))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:   # SQLite may have rolled back already (disk full)
                    self._db.execute("ROLLBACK")
                raise
            self._added.notify_all()
            return cur.lastrowid or 0

    def chain_head(self) -> ChainHead | None:
        """The last signed record written (None before the first)."""
        with self._lock:
            row = self._db.execute("SELECT chain_id, seq, hash FROM chain_head").fetchone()
        return ChainHead(*row) if row else None

    def journal(self, since: float = 0.0) -> list[tuple[str, str]]:
        """(msg_id, topic) of every message accepted since ``since`` (wall time)."""
        with self._lock:
            return self._db.execute("SELECT msg_id, topic FROM journal WHERE created >= ?"
                                    " ORDER BY rowid", (since,)).fetchall()

    def prune_journal(self, days: float = 30.0) -> int:
        """Forget journal rows older than ``days`` (the node's upkeep calls this once an
        hour); returns how many went. A row of this boot is aged by the monotonic clock, so a
        wall clock that jumps a year ahead forgets nothing of today. The outbox itself (what
        is not yet delivered) is never pruned."""
        age = days * 86400
        with self._lock:
            return self._db.execute(
                "DELETE FROM journal WHERE CASE WHEN boot = ? AND created_mono IS NOT NULL"
                " THEN created_mono < ? ELSE created < ? END",
                (self.boot, self._clock() - age, self._wall() - age)).rowcount

    def pending(self, after: int = 0, limit: int = 100) -> list[OutboxItem]:
        """Messages not yet acknowledged, oldest first, with ``seq > after``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, msg_id, topic, payload, qos, attachment FROM outbox WHERE seq > ?"
                " ORDER BY seq LIMIT ?", (after, limit)).fetchall()
        return [OutboxItem(r[0], r[1], r[2], bytes(r[3]), r[4], r[5]) for r in rows]

    def ack(self, seq: int) -> None:
        """The broker has it: forget the message. On a full disk the delete itself needs
        room in the WAL: a checkpoint that truncates the WAL is tried first."""
        with self._lock:
            try:
                self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            except sqlite3.OperationalError:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def delivered(self, msg_id: str) -> bool:
        """True once the message is acknowledged (no longer in the outbox)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM outbox WHERE msg_id = ?",
                                    (msg_id,)).fetchone() is None

    def attachments(self) -> set[str]:
        """The files that messages not yet acknowledged still have to send."""
        with self._lock:
            return {r[0] for r in self._db.execute(
                "SELECT attachment FROM outbox WHERE attachment IS NOT NULL")}

    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def wait_for_new(self, after: int, timeout: float) -> None:
        """Block until a message with ``seq > after`` may exist, or ``timeout`` passes."""
        with self._added:
            newest = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] or 0
            if newest <= after:
                self._added.wait(timeout)

    def notify(self) -> None:
        """Wake whoever waits in ``wait`` or ``wait_for_new``."""
        with self._added:
            self._added.notify_all()

    def wait(self, timeout: float) -> None:
        with self._added:
            self._added.wait(timeout)

    def close(self) -> None:
        with self._lock:
            self._db.close()
