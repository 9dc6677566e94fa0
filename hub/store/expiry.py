"""Evidence expiry (clause 4.3): which evidence has outlived its exam, and forgetting it with
a line in ``retention_log`` for every file (``hub.retention_job`` deletes the files); the
node's signed record of the file goes with it unless a protocol holds it
(``signed_records.forget_evidence``)."""

from __future__ import annotations

import sqlite3

from hub.store import signed_records
from hub.store.db import now_iso

# The exam an evidence file belongs to: the session in its room when its alert started, by
# the times the hub trusts (hub.clocks), not a node's clock.
_EXPIRY_SQL = """
SELECT e.*, COALESCE((
    SELECT s.ends_at FROM sessions s
    WHERE s.building = e.building AND s.room = e.room
      AND s.starts_at <= substr(a.trusted_started_at, 1, 19) || 'Z'
      AND s.ends_at > substr(a.trusted_started_at, 1, 19) || 'Z'
    ORDER BY s.starts_at DESC LIMIT 1), e.trusted_captured_at) AS exam_end
FROM evidence e LEFT JOIN alerts a ON a.alert_id = e.alert_id
WHERE e.alert_id NOT IN (SELECT alert_id FROM protocols)
ORDER BY e.trusted_captured_at
"""


def candidates(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Evidence that no protocol holds, each with ``exam_end`` (its session's end, or its
    own trusted capture time when no session covers it)."""
    return conn.execute(_EXPIRY_SQL).fetchall()


def forget(conn: sqlite3.Connection, row: sqlite3.Row, expired_at: str,
           file_removed: bool) -> None:
    """Delete one evidence row and its signed record, and log it (inside the caller's
    transaction)."""
    conn.execute("DELETE FROM evidence WHERE evidence_id = ?", (row["evidence_id"],))
    signed_records.forget_evidence(conn, row["evidence_id"])
    conn.execute("INSERT INTO retention_log (at, evidence_id, alert_id, building, room, kind,"
                 " sha256, captured_at, expired_at, file_removed) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (now_iso(), row["evidence_id"], row["alert_id"], row["building"], row["room"],
                  row["kind"], row["sha256"], row["captured_at"], expired_at,
                  int(file_removed)))
