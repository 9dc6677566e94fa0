"""The proctor's check-in at the start of an exam: for each student, who checked them, when,
with which result (identified, absent, someone else at the seat, moved to another seat), kept
with the exam (``check_ins``); and the fresh crops of the seats asked from the node for it
(``check_in_crops``: a ``check_in`` command, answered by evidence of kind ``check-in`` under
the command's id that says what the node saw seated).

Every result is a row (a later one supersedes an earlier one for the same student: the
history stays); the headcount counts each student's latest. Purged with the exam's retention
(``expire``), except the record of a student whose protocol in that exam still holds it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hub.store import sessions
from hub.store.db import now_iso
from kuzet import contract

RESULTS = ("identified", "absent", "someone_else", "moved")


class CheckInRefused(ValueError):
    """A result that cannot be recorded as asked; the text says why."""


# -- crops ------------------------------------------------------------------------------------
def ask(conn: sqlite3.Connection, origin: contract.Origin, session_id: int, seat: str,
        user_id: int) -> list[tuple[str, bytes, str]]:
    """Record a ``check_in`` command for ``seat`` to ``origin``'s node; returns it as
    ``(topic, payload, msg_id)`` to publish after commit (``hub.web.node_commands``)."""
    cmd = contract.CommandMessage(action=contract.Action.CHECK_IN, seat=seat,
                                  session_id=str(session_id))
    [queued] = sessions.queue_commands(conn, origin.building, origin.room, cmd, session_id,
                                       now_iso(), [origin.node])
    conn.execute("INSERT INTO check_in_crops (command_id, session_id, seat, asked_by, asked_at)"
                 " VALUES (?,?,?,?,?)", (queued[2], session_id, seat, user_id, now_iso()))
    return [queued]


def crop_arrived(conn: sqlite3.Connection, msg: contract.EvidenceMessage) -> None:
    """A check-in crop came (inside the writer's transaction, ``alerts.apply_evidence``):
    what the node saw seated goes with the crop it was asked for."""
    seen = msg.seated or contract.Seated()
    conn.execute("UPDATE check_in_crops SET evidence_id = ?, seat_taken = ?, taken = ?,"
                 " looked = ?, received_at = ? WHERE command_id = ? AND evidence_id IS NULL",
                 (msg.evidence_id, None if seen.seat is None else int(seen.seat), seen.taken,
                  seen.looked, now_iso(), msg.alert_id))


_CROP = ("SELECT c.*, e.file, e.trusted_captured_at, s.building, s.room FROM check_in_crops c"
         " JOIN sessions s ON s.id = c.session_id"
         " LEFT JOIN evidence e ON e.evidence_id = c.evidence_id")


def crop(conn: sqlite3.Connection, command_id: str) -> sqlite3.Row | None:
    """One asked crop (``evidence_id`` None until it came), with its session's room."""
    return conn.execute(f"{_CROP} WHERE c.command_id = ?", (command_id,)).fetchone()


def latest_crops(conn: sqlite3.Connection, session_id: int) -> dict[str, sqlite3.Row]:
    """Each seat's newest crop that came for the session."""
    rows = conn.execute(f"{_CROP} WHERE c.session_id = ? AND e.evidence_id IS NOT NULL"
                        " ORDER BY c.received_at, c.rowid", (session_id,)).fetchall()
    return {r["seat"]: r for r in rows}


# -- results ----------------------------------------------------------------------------------
def record(conn: sqlite3.Connection, session_id: int, student_no: str, result: str,
           user_id: int, *, moved_to: str | None = None, command_id: str | None = None,
           seat_ids: list[str] | None = None) -> int:
    """Record the proctor's result for a student on the session's roster, at the seat they
    sit at now. ``moved``: the student is seated at ``moved_to`` (one of ``seat_ids``, the
    room's seat map) from now on, its previous student unseated. ``command_id``: the crop
    the proctor looked at (of this session). Returns the row's id."""
    if result not in RESULTS:
        raise CheckInRefused(f"unknown result {result!r}")
    row = conn.execute("SELECT seat FROM session_seats WHERE session_id = ? AND student_no = ?",
                       (session_id, student_no)).fetchone()
    if row is None:
        raise CheckInRefused("the student is not on this session's roster")
    if result == "moved":
        if not moved_to or moved_to not in (seat_ids or []):
            raise CheckInRefused("choose a seat of the room's seat map to move to")
        if moved_to == row["seat"]:
            raise CheckInRefused("the student already sits there")
    elif moved_to:
        raise CheckInRefused("a seat to move to goes only with 'moved'")
    if command_id is not None and conn.execute(
            "SELECT 1 FROM check_in_crops WHERE command_id = ? AND session_id = ?",
            (command_id, session_id)).fetchone() is None:
        command_id = None                        # not a crop of this exam: not named
    cur = conn.execute("INSERT INTO check_ins (session_id, student_no, seat, result, moved_to,"
                       " command_id, by_user, at) VALUES (?,?,?,?,?,?,?,?)",
                       (session_id, student_no, row["seat"], result, moved_to, command_id,
                        user_id, now_iso()))
    if result == "moved":
        sessions.seat_student(conn, session_id, student_no, moved_to, user_id)
    return int(cur.lastrowid)


_RECORD = ("SELECT c.*, st.name, COALESCE(NULLIF(u.display_name, ''), u.username) AS by_name"
           " FROM check_ins c JOIN students st USING (student_no)"
           " LEFT JOIN users u ON u.id = c.by_user")


def records(conn: sqlite3.Connection, session_id: int) -> list[sqlite3.Row]:
    """Every result of the session, oldest first (the session page's record)."""
    return conn.execute(f"{_RECORD} WHERE c.session_id = ? ORDER BY c.id",
                        (session_id,)).fetchall()


def latest(conn: sqlite3.Connection, session_id: int) -> dict[str, sqlite3.Row]:
    """Each student's latest result in the session."""
    return {r["student_no"]: r for r in records(conn, session_id)}


def for_student(conn: sqlite3.Connection, session_id: int | None,
                student_no: str) -> sqlite3.Row | None:
    """The student's latest result in the session (the protocol's check-in line)."""
    if session_id is None or not student_no:
        return None
    return conn.execute(f"{_RECORD} WHERE c.session_id = ? AND c.student_no = ?"
                        " ORDER BY c.id DESC LIMIT 1", (session_id, student_no)).fetchone()


def headcount(conn: sqlite3.Connection, session_id: int) -> dict[str, Any]:
    """Seen seated (the node's count with the newest crop that came: ``seen`` of ``looked``
    seats, None when it did not know, e.g. before the exam ran on it) against the roster's
    latest results: ``checked_in`` (identified), ``absent``, ``someone_else``, ``moved``, and
    ``waiting`` (no result yet)."""
    newest = conn.execute("SELECT c.taken, c.looked, c.received_at FROM check_in_crops c"
                          " WHERE c.session_id = ? AND c.evidence_id IS NOT NULL"
                          " ORDER BY c.received_at DESC, c.rowid DESC LIMIT 1",
                          (session_id,)).fetchone()
    roster = conn.execute("SELECT COUNT(*) FROM session_seats WHERE session_id = ?",
                          (session_id,)).fetchone()[0]
    results = [r["result"] for r in latest(conn, session_id).values()]
    return {"seen": newest["taken"] if newest else None,
            "looked": newest["looked"] if newest else None,
            "seen_at": newest["received_at"] if newest else None,
            "roster": roster,
            "checked_in": results.count("identified"), "absent": results.count("absent"),
            "someone_else": results.count("someone_else"), "moved": results.count("moved"),
            "waiting": roster - len(results)}


# -- retention --------------------------------------------------------------------------------
def expire(conn: sqlite3.Connection, cutoff: str) -> int:
    """Forget the check-in record and crops of the exams that ended before ``cutoff`` (UTC
    ISO), but a student's record while a protocol of that exam for them holds it. Returns the
    number of results deleted (the crops' files go with the evidence's retention). The
    automatic face match's advice (``face_matches``) is part of the record: it goes with it."""
    ended = "SELECT id FROM sessions WHERE ends_at < ?"
    unheld = ("session_id IN ({ended}) AND NOT EXISTS (SELECT 1 FROM protocols p"
              " WHERE p.session_id = {t}.session_id AND p.student_no = {t}.student_no)")
    gone = conn.execute("DELETE FROM check_ins WHERE "
                        + unheld.format(ended=ended, t="check_ins"), (cutoff,)).rowcount
    conn.execute("DELETE FROM face_matches WHERE "
                 + unheld.format(ended=ended, t="face_matches"), (cutoff,))
    conn.execute(f"DELETE FROM check_in_crops WHERE session_id IN ({ended}) AND command_id NOT"
                 " IN (SELECT command_id FROM check_ins WHERE command_id IS NOT NULL)",
                 (cutoff,))
    return gone
