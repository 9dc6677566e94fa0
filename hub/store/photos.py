"""Roster photos: one per student (``roster_photos``), the file in the hub's photos folder
named by its sha256 (``hub.photos`` validates and re-encodes it; ``hub.retention_job``
deletes it). Embeddings or check-in crops made from a photo live and die with it.

Retention (docs/decisions.md, "Roster photos follow the exam's retention"): a photo is kept
until ``retention.evidence_days`` after the later of its import and the end of the student's
last exam (any session whose roster has the student, ended or not); then the row, the file
and anything keyed by the student's photo go, with a line in ``photo_retention_log``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.store.db import now_iso


@dataclass(frozen=True)
class StoredPhoto:
    """A checked photo written to the photos folder (``file`` relative to it)."""

    student_no: str
    file: str
    sha256: str
    source_sha256: str
    source_name: str
    width: int
    height: int
    size: int


def photo_for(conn: sqlite3.Connection, student_no: str) -> sqlite3.Row | None:
    """The student's photo row (``file``, ``sha256``, ``width``, ``height``, …), or None."""
    return conn.execute("SELECT * FROM roster_photos WHERE student_no = ?",
                        (student_no,)).fetchone()


def photo_in_session(conn: sqlite3.Connection, session_id: int,
                     student_no: str) -> sqlite3.Row | None:
    """The photo of a student on the session's roster; None if not on it or without one."""
    return conn.execute("SELECT p.* FROM roster_photos p JOIN session_seats ss USING"
                        " (student_no) WHERE ss.session_id = ? AND p.student_no = ?",
                        (session_id, student_no)).fetchone()


def with_photo(conn: sqlite3.Connection, session_id: int) -> set[str]:
    """The student numbers of the session's roster that have a photo."""
    return {r[0] for r in conn.execute(
        "SELECT p.student_no FROM roster_photos p JOIN session_seats ss USING (student_no)"
        " WHERE ss.session_id = ?", (session_id,))}


def known_students(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT student_no FROM students")}


def replace(conn: sqlite3.Connection, photos: list[StoredPhoto],
            user_id: int | None) -> list[str]:
    """Store each photo, replacing the student's earlier one (inside the caller's
    transaction). Returns the files no row refers to any more, to delete after commit."""
    old = {r[0] for r in conn.execute(
        "SELECT file FROM roster_photos WHERE student_no IN (SELECT value FROM json_each(?))",
        (json.dumps([p.student_no for p in photos]),))}
    now = now_iso()
    conn.executemany(
        "INSERT INTO roster_photos (student_no, file, sha256, source_sha256, source_name,"
        " width, height, size, imported_at, imported_by) VALUES (?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(student_no) DO UPDATE SET file=excluded.file, sha256=excluded.sha256,"
        " source_sha256=excluded.source_sha256, source_name=excluded.source_name,"
        " width=excluded.width, height=excluded.height, size=excluded.size,"
        " imported_at=excluded.imported_at, imported_by=excluded.imported_by",
        [(p.student_no, p.file, p.sha256, p.source_sha256, p.source_name, p.width, p.height,
          p.size, now, user_id) for p in photos])
    return unreferenced(conn, old)


def unreferenced(conn: sqlite3.Connection, files: set[str] | list[str]) -> list[str]:
    """Those of ``files`` that no photo row names (identical photos share one file)."""
    return sorted(f for f in set(files) if conn.execute(
        "SELECT 1 FROM roster_photos WHERE file = ?", (f,)).fetchone() is None)


def shared_file(conn: sqlite3.Connection, row: sqlite3.Row) -> bool:
    """Whether another student's photo row names the same file (the same picture twice)."""
    return conn.execute("SELECT 1 FROM roster_photos WHERE file = ? AND student_no <> ?",
                        (row["file"], row["student_no"])).fetchone() is not None


# The later of the photo's import and the end of the student's last exam (its scheduled end,
# or when it was stopped if later: an exam that overran).
_LAST_USE_SQL = """
SELECT p.*, (SELECT MAX(MAX(s.ends_at, COALESCE(s.stopped_at, s.ends_at)))
             FROM session_seats ss JOIN sessions s ON s.id = ss.session_id
             WHERE ss.student_no = p.student_no) AS last_exam_end
FROM roster_photos p ORDER BY p.student_no
"""


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def kept_until(row: sqlite3.Row, days: float) -> datetime:
    """When the photo's retention ends: ``days`` after its import or its last exam's end."""
    last = _parse(row["imported_at"])
    if row["last_exam_end"]:
        last = max(last, _parse(row["last_exam_end"]))
    return last + timedelta(days=days)


def expired(conn: sqlite3.Connection, days: float,
            now: datetime) -> list[tuple[sqlite3.Row, datetime]]:
    """Every photo whose retention ended before ``now`` (aware), with its end."""
    out = []
    for row in conn.execute(_LAST_USE_SQL).fetchall():
        until = kept_until(row, days)
        if until < now:
            out.append((row, until))
    return out


def forget(conn: sqlite3.Connection, row: sqlite3.Row, until: datetime,
           file_removed: bool) -> None:
    """Delete one photo row (what refers to it goes with it: ON DELETE CASCADE) and log it."""
    conn.execute("DELETE FROM roster_photos WHERE student_no = ?", (row["student_no"],))
    conn.execute("INSERT INTO photo_retention_log (at, student_no, sha256, imported_at,"
                 " kept_until, file_removed) VALUES (?,?,?,?,?,?)",
                 (now_iso(), row["student_no"], row["sha256"], row["imported_at"],
                  until.isoformat(timespec="seconds"), int(file_removed)))

