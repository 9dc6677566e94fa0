"""The automatic 1:1 face match's rows: the exam's opt-in, each check-in crop's advice, and
the roster photos' embeddings (``hub.face_match`` computes them; docs/decisions.md).

* ``sessions.face_match``: the exam opted in (set on the session page before the start; the
  start tells the nodes, ``StartSession.face_check``);
* ``face_matches``: per check-in crop (``evidence_id``), the advice for the seat's student:
  ``likely`` / ``unlikely`` (with the cosine ``similarity`` and the ``threshold``),
  ``no_face`` (no face in the crop), ``no_photo_face`` (none in the photo) or ``failed`` (the
  model failed: no automatic match). Advice to the proctor, never a verdict;
* ``photo_embeddings``: a photo's embedding, made once, only on the hub, never sent anywhere;
  it goes with its photo (ON DELETE CASCADE from ``roster_photos``: the retention purge).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from hub.store.db import now_iso

RESULTS = ("likely", "unlikely", "no_face", "no_photo_face", "failed")


class FlagRefused(ValueError):
    """The opt-in cannot change now (the exam has started); the text says why."""


def set_flag(conn: sqlite3.Connection, session_id: int, on: bool) -> None:
    """Opt the exam in or out; only before it starts (the nodes learn it at the start)."""
    row = conn.execute("SELECT started_at FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise FlagRefused("no such session")
    if row["started_at"] is not None:
        raise FlagRefused("the exam has started: the automatic face match is set before")
    conn.execute("UPDATE sessions SET face_match = ? WHERE id = ?", (int(on), session_id))


def flag(conn: sqlite3.Connection, session_id: int) -> bool:
    row = conn.execute("SELECT face_match FROM sessions WHERE id = ?", (session_id,)).fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class CheckInCrop:
    """A check-in crop the hub stored, and whose photo it is to be compared with."""

    evidence_id: str
    file: str                      # in the evidence folder
    session_id: int
    seat: str
    student_no: str | None         # the seat's student in that session (None: nobody)
    photo_file: str | None         # their roster photo, in the photos folder
    photo_sha256: str | None
    face_match: bool               # the session opted in


def check_in_crop(conn: sqlite3.Connection, evidence_id: str) -> CheckInCrop | None:
    """The check-in crop ``evidence_id`` with its session (from the ``check_in`` command it
    answers), its seat, the seat's student and photo; None if it is no check-in crop."""
    row = conn.execute(
        "SELECT e.evidence_id, e.file, c.session_id, c.payload FROM evidence e JOIN commands c"
        " ON c.msg_id = e.alert_id AND c.action = 'check_in'"
        " WHERE e.evidence_id = ? AND e.kind = 'check-in'", (evidence_id,)).fetchone()
    if row is None or row["session_id"] is None:
        return None
    seat = json.loads(row["payload"]).get("seat")
    if not seat:
        return None
    st = conn.execute(
        "SELECT ss.student_no, p.file, p.sha256 FROM session_seats ss LEFT JOIN roster_photos p"
        " USING (student_no) WHERE ss.session_id = ? AND ss.seat = ?",
        (row["session_id"], seat)).fetchone()
    return CheckInCrop(row["evidence_id"], row["file"], int(row["session_id"]), seat,
                       st["student_no"] if st else None, st["file"] if st else None,
                       st["sha256"] if st else None, flag(conn, row["session_id"]))


def record(conn: sqlite3.Connection, crop: CheckInCrop, result: str,
           similarity: float | None, threshold: float, model: str, ms: float) -> None:
    """The advice for one check-in crop (a second one for the same crop replaces it)."""
    if result not in RESULTS:
        raise ValueError(f"unknown face match result {result!r}")
    conn.execute(
        "INSERT OR REPLACE INTO face_matches (evidence_id, session_id, seat, student_no,"
        " result, similarity, threshold, model, ms, at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (crop.evidence_id, crop.session_id, crop.seat, crop.student_no or "", result,
         None if similarity is None else round(similarity, 4), threshold, model,
         round(ms, 1), now_iso()))


def for_evidence(conn: sqlite3.Connection, evidence_id: str) -> sqlite3.Row | None:
    """The advice for one check-in crop, if made."""
    return conn.execute("SELECT * FROM face_matches WHERE evidence_id = ?",
                        (evidence_id,)).fetchone()


def latest_by_seat(conn: sqlite3.Connection, session_id: int) -> dict[str, sqlite3.Row]:
    """Each seat's newest advice in the session (its newest check-in crop's)."""
    rows = conn.execute("SELECT * FROM face_matches WHERE session_id = ? ORDER BY at, rowid",
                        (session_id,)).fetchall()
    return {r["seat"]: r for r in rows}


def photo_embedding(conn: sqlite3.Connection, student_no: str, photo_sha256: str,
                    model: str) -> bytes | None:
    """The stored embedding of the student's current photo by ``model``, if made."""
    row = conn.execute("SELECT vector FROM photo_embeddings WHERE student_no = ? AND"
                       " photo_sha256 = ? AND model = ?",
                       (student_no, photo_sha256, model)).fetchone()
    return row[0] if row else None


def keep_photo_embedding(conn: sqlite3.Connection, student_no: str, photo_sha256: str,
                         model: str, vector: bytes) -> None:
    """Keep the photo's embedding (one per student: a new photo's replaces the old). Nothing
    is kept if the photo has gone meanwhile (the retention purge)."""
    if conn.execute("SELECT 1 FROM roster_photos WHERE student_no = ? AND sha256 = ?",
                    (student_no, photo_sha256)).fetchone() is None:
        return
    conn.execute("INSERT OR REPLACE INTO photo_embeddings VALUES (?, ?, ?, ?)",
                 (student_no, photo_sha256, model, vector))
