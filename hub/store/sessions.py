"""Exam sessions with their details, proctors and rosters; seats; commands to the nodes.

Every writing function runs inside the writer's transaction (``writer.call``) or the CLI's;
an import that finds any bad row raises ``ImportRefused`` so the transaction (or savepoint)
is rolled back and nothing is half-imported.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from hub.roster import ExamRow, ImportRefused, RowError, StudentRow
from hub.store.db import iso_seconds, now_iso
from kuzet import contract


class SessionRefused(ValueError):
    """A session that cannot be scheduled or stopped as asked; the text says why."""


def overlapping(conn: sqlite3.Connection, building: str, room: str, starts_at: str,
                ends_at: str, *, besides: int | None = None) -> sqlite3.Row | None:
    """A session in the room whose time overlaps ``[starts_at, ends_at)`` (ISO to the
    second, UTC), other than ``besides``: one room holds one exam at a time."""
    return conn.execute("SELECT id, title, starts_at, ends_at FROM sessions WHERE building=?"
                        " AND room=? AND starts_at < ? AND ends_at > ? AND id IS NOT ?"
                        " ORDER BY starts_at LIMIT 1",
                        (building, room, ends_at, starts_at, besides)).fetchone()


def _overlap_message(row: sqlite3.Row) -> str:
    return (f"the room already has session {row['id']}"
            f"{' (' + row['title'] + ')' if row['title'] else ''} from {row['starts_at']}"
            f" to {row['ends_at']}; one room holds one exam at a time (several proctors can"
            " share one session)")


def add_session(conn: sqlite3.Connection, building: str, room: str, proctor: str,
                starts_at: datetime, ends_at: datetime, title: str = "",
                created_by: int | None = None) -> int:
    """A session by hand: ``proctor`` (a username with the proctor role) may see the room
    from ``starts_at`` to ``ends_at`` (aware datetimes)."""
    row = conn.execute("SELECT id, role FROM users WHERE username = ?", (proctor,)).fetchone()
    if row is None or row["role"] != "proctor":
        raise ValueError(f"{proctor!r} is not a proctor")
    if starts_at.tzinfo is None or ends_at.tzinfo is None or ends_at <= starts_at:
        raise ValueError("a session needs an aware start before its end")
    clash = overlapping(conn, building, room, iso_seconds(starts_at), iso_seconds(ends_at))
    if clash is not None:
        raise SessionRefused(_overlap_message(clash))
    cur = conn.execute(
        "INSERT INTO sessions (building, room, proctor_id, title, starts_at, ends_at,"
        " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (building, room, row["id"], title, iso_seconds(starts_at), iso_seconds(ends_at),
         created_by, now_iso()))
    conn.execute("INSERT INTO session_proctors VALUES (?, ?)", (cur.lastrowid, row["id"]))
    return int(cur.lastrowid)


def import_timetable(conn: sqlite3.Connection, exams: list[ExamRow],
                     created_by: int | None = None) -> list[int]:
    """Create (or update, by ``exam_code``) every exam; all or nothing. Each proctor must be
    a user with the proctor role; an exam may not overlap another session in its room. The
    session's roster is its groups' students."""
    errors: list[RowError] = []
    proctor_ids: dict[str, int] = {}
    for exam in exams:
        for name in exam.proctors:
            row = conn.execute("SELECT id, role FROM users WHERE username = ? AND active = 1",
                               (name,)).fetchone()
            if row is None or row["role"] != "proctor":
                errors.append(RowError(exam.line, "proctors", f"{name!r} is not a proctor"))
            else:
                proctor_ids[name] = row["id"]
    if errors:
        raise ImportRefused(errors)
    ids = []
    now = now_iso()
    for e in exams:
        old = conn.execute("SELECT id FROM sessions WHERE exam_code = ?",
                           (e.exam_code,)).fetchone()
        clash = overlapping(conn, e.building, e.room, iso_seconds(e.starts_at),
                            iso_seconds(e.ends_at), besides=old["id"] if old else None)
        if clash is not None:
            errors.append(RowError(e.line, "start", _overlap_message(clash)))
        values = (e.building, e.room, proctor_ids[e.proctors[0]], e.discipline,
                  iso_seconds(e.starts_at), iso_seconds(e.ends_at), e.discipline,
                  json.dumps(e.groups, ensure_ascii=False), json.dumps(e.allowed_aids),
                  e.examiner, e.head_of_department, e.seating)
        if old is None:
            cur = conn.execute(
                "INSERT INTO sessions (building, room, proctor_id, title, starts_at, ends_at,"
                " discipline, groups, allowed_aids, examiner, head_of_department, seating,"
                " exam_code, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*values, e.exam_code, created_by, now))
            sid = int(cur.lastrowid)
        else:
            sid = old["id"]
            conn.execute(
                "UPDATE sessions SET building=?, room=?, proctor_id=?, title=?, starts_at=?,"
                " ends_at=?, discipline=?, groups=?, allowed_aids=?, examiner=?,"
                " head_of_department=?, seating=? WHERE id=?", (*values, sid))
            conn.execute("DELETE FROM session_proctors WHERE session_id = ?", (sid,))
        conn.executemany("INSERT OR IGNORE INTO session_proctors VALUES (?, ?)",
                         [(sid, proctor_ids[p]) for p in e.proctors])
        fill_roster(conn, sid)
        ids.append(sid)
    if errors:                       # overlaps, each row against those before it: nothing
        raise ImportRefused(errors)  # is kept (the caller's transaction rolls back)
    return ids


def import_roster(conn: sqlite3.Connection, students: list[StudentRow]) -> int:
    """Add or update every student (by ``student_no``), then refresh the rosters of the
    sessions not yet started. Returns the number of students."""
    now = now_iso()
    conn.executemany(
        "INSERT INTO students VALUES (?, ?, ?, ?, ?) ON CONFLICT(student_no) DO UPDATE SET"
        " name=excluded.name, group_name=excluded.group_name, seat=excluded.seat,"
        " updated_at=excluded.updated_at",
        [(s.student_no, s.name, s.group, s.seat, now) for s in students])
    for row in conn.execute("SELECT id FROM sessions WHERE started_at IS NULL").fetchall():
        fill_roster(conn, row["id"])
    return len(students)


def fill_roster(conn: sqlite3.Connection, session_id: int) -> None:
    """The session's roster is the students of its groups; in ``assigned`` seating each
    gets the seat from the roster file (unless a seat was already set by hand)."""
    s = conn.execute("SELECT groups, seating FROM sessions WHERE id = ?",
                     (session_id,)).fetchone()
    groups = json.loads(s["groups"])
    marks = ",".join("?" * len(groups)) or "NULL"
    for st in conn.execute(f"SELECT student_no, seat FROM students WHERE group_name IN ({marks})",
                           groups).fetchall():
        seat = st["seat"] if s["seating"] == "assigned" else None
        taken = seat and conn.execute(
            "SELECT 1 FROM session_seats WHERE session_id=? AND seat=? AND student_no<>?",
            (session_id, seat, st["student_no"])).fetchone()
        conn.execute("INSERT INTO session_seats (session_id, student_no, seat) VALUES (?,?,?)"
                     " ON CONFLICT DO UPDATE SET seat = COALESCE(seat, excluded.seat)",
                     (session_id, st["student_no"], None if taken else seat))


def get(conn: sqlite3.Connection, session_id: int) -> dict[str, Any] | None:
    """One session with its proctors (usernames and names) and parsed lists."""
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    out["groups"] = json.loads(row["groups"])
    out["allowed_aids"] = json.loads(row["allowed_aids"])
    people = conn.execute("SELECT u.id, u.username, u.display_name FROM session_proctors p"
                          " JOIN users u ON u.id = p.user_id WHERE p.session_id = ?"
                          " ORDER BY u.username", (session_id,)).fetchall()
    out["proctor_ids"] = [p["id"] for p in people]
    out["proctors"] = [p["display_name"] or p["username"] for p in people]
    return out


def listing(conn: sqlite3.Connection, user_id: int | None = None,
            limit: int = 300) -> list[dict[str, Any]]:
    """Sessions, newest first; only ``user_id``'s if given."""
    if user_id is None:
        rows = conn.execute("SELECT id FROM sessions ORDER BY starts_at DESC LIMIT ?", (limit,))
    else:
        rows = conn.execute("SELECT s.id FROM sessions s JOIN session_proctors p ON"
                            " p.session_id = s.id WHERE p.user_id = ?"
                            " ORDER BY s.starts_at DESC LIMIT ?", (user_id, limit))
    return [get(conn, r[0]) for r in rows.fetchall()]


def recent(conn: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    """Session rows, newest first, each with its first proctor's user name (``proctor``)."""
    return conn.execute("SELECT s.*, u.username AS proctor FROM sessions s JOIN users u"
                        " ON u.id = s.proctor_id ORDER BY s.starts_at DESC LIMIT ?",
                        (limit,)).fetchall()


def is_proctor(conn: sqlite3.Connection, session_id: int, user_id: int) -> bool:
    return conn.execute("SELECT 1 FROM session_proctors WHERE session_id=? AND user_id=?",
                        (session_id, user_id)).fetchone() is not None


def roster(conn: sqlite3.Connection, session_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT st.student_no, st.name, st.group_name, ss.seat FROM"
                        " session_seats ss JOIN students st USING (student_no)"
                        " WHERE ss.session_id = ? ORDER BY st.group_name, st.name",
                        (session_id,)).fetchall()


def seat_student(conn: sqlite3.Connection, session_id: int, student_no: str,
                 seat: str | None, user_id: int) -> None:
    """The proctor puts a student at a seat (free seating), or clears it (``None``); the
    seat's previous student, if any, is unseated."""
    if conn.execute("SELECT 1 FROM session_seats WHERE session_id=? AND student_no=?",
                    (session_id, student_no)).fetchone() is None:
        raise ValueError("the student is not on this session's roster")
    if seat:
        conn.execute("UPDATE session_seats SET seat = NULL WHERE session_id=? AND seat=?",
                     (session_id, seat))
    conn.execute("UPDATE session_seats SET seat=?, seated_by=?, seated_at=? WHERE"
                 " session_id=? AND student_no=?",
                 (seat or None, user_id, now_iso(), session_id, student_no))


def student_at(conn: sqlite3.Connection, session_id: int | None,
               seat: str | None) -> sqlite3.Row | None:
    if session_id is None or not seat:
        return None
    return conn.execute("SELECT st.* FROM session_seats ss JOIN students st USING"
                        " (student_no) WHERE ss.session_id=? AND ss.seat=?",
                        (session_id, seat)).fetchone()


def set_running(conn: sqlite3.Connection, session_id: int, running: bool,
                nodes: list[str] | None = None) -> list[tuple[str, bytes, str]]:
    """Start or stop a session: record it and queue one command per node of the room.
    Returns ``(topic, payload, msg_id)`` for each command, to publish after commit."""
    s = get(conn, session_id)
    if s is None:
        raise ValueError("no such session")
    now = now_iso()
    if running:
        conn.execute("UPDATE sessions SET stopped_at=? WHERE building=? AND room=? AND id<>?"
                     " AND started_at IS NOT NULL AND stopped_at IS NULL",
                     (now, s["building"], s["room"], session_id))   # the node stops it too
        conn.execute("UPDATE sessions SET started_at=?, stopped_at=NULL WHERE id=?",
                     (now, session_id))
        size = conn.execute("SELECT COUNT(*) FROM session_seats WHERE session_id=?",
                            (session_id,)).fetchone()[0]
        cmd = contract.CommandMessage(
            action=contract.Action.START_SESSION,
            session=contract.StartSession(session_id=str(session_id),
                                          allowed_aids=s["allowed_aids"],
                                          roster_size=min(size, 1000),
                                          proctors=min(len(s["proctor_ids"]), 50),
                                          face_check=bool(s.get("face_match"))))
    else:
        conn.execute("UPDATE sessions SET stopped_at=? WHERE id=?", (now, session_id))
        cmd = contract.CommandMessage(action=contract.Action.STOP_SESSION,
                                      session_id=str(session_id))
    return queue_commands(conn, s["building"], s["room"], cmd, session_id, now, nodes)


def queue_commands(conn: sqlite3.Connection, building: str, room: str,
                   cmd: contract.CommandMessage, session_id: int | None, now: str,
                   nodes: list[str] | None = None) -> list[tuple[str, bytes, str]]:
    """Record ``cmd`` once per node of the room (each copy its own id) in ``commands``.
    Returns ``(topic, payload, msg_id)`` for each, to publish after commit."""
    if nodes is None:
        nodes = [r[0] for r in conn.execute("SELECT node FROM nodes WHERE building=? AND"
                                            " room=? ORDER BY node", (building, room))]
    out = []
    for node in nodes:
        msg = cmd.model_copy(update={"id": contract.new_id()})
        payload = contract.encode(msg)
        origin = contract.Origin(building=building, room=room, node=node)
        conn.execute("INSERT INTO commands (msg_id, at, building, room, node, action,"
                     " session_id, payload) VALUES (?,?,?,?,?,?,?,?)",
                     (msg.id, now, building, room, node, cmd.action.value,
                      session_id, payload.decode()))
        out.append((contract.topic(origin, "cmd"), payload, msg.id))
    return out


def running_in_room(conn: sqlite3.Connection, building: str, room: str) -> int | None:
    """The session the room's nodes were last told to run and not told to stop."""
    row = conn.execute("SELECT id FROM sessions WHERE building=? AND room=? AND started_at"
                       " IS NOT NULL AND stopped_at IS NULL ORDER BY started_at DESC LIMIT 1",
                       (building, room)).fetchone()
    return int(row[0]) if row else None


def stop_running(conn: sqlite3.Connection, session_id: int,
                 nodes: list[str] | None = None) -> list[tuple[str, bytes, str]]:
    """End the exam: only the session the room runs now; any other is ``SessionRefused``
    (a proctor's session that is over or not begun cannot end the one running)."""
    s = get(conn, session_id)
    if s is None:
        raise SessionRefused("no such session")
    if running_in_room(conn, s["building"], s["room"]) != session_id:
        raise SessionRefused("this session is not the one running in its room")
    return set_running(conn, session_id, False, nodes)


def mark_published(conn: sqlite3.Connection, msg_ids: list[str]) -> None:
    conn.executemany("UPDATE commands SET published = 1 WHERE msg_id = ?",
                     [(m,) for m in msg_ids])


def running_now(conn: sqlite3.Connection, now_iso_: str) -> list[dict[str, Any]]:
    """Sessions whose time window holds ``now`` (started on the node or not)."""
    rows = conn.execute("SELECT id FROM sessions WHERE starts_at<=? AND ends_at>?"
                        " ORDER BY building, room", (now_iso_, now_iso_)).fetchall()
    return [get(conn, r[0]) for r in rows]
