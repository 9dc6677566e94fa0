"""Appendix A protocols (clause 4.7): created when a proctor confirms a violation, prefilled
from the session and its roster, editable while a draft, then issued (the PDF is frozen),
signed (the scanned signed copy) and the retake scheduled.

Statuses only move forward: draft → issued → signed → retake_scheduled.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub import zone
from hub.csv_export import csv_text
from hub.store import scope
from hub.store import sessions as exam_sessions
from hub.store import users as accounts
from hub.store.alerts import decide
from hub.store.changes import Change
from hub.store.db import now_iso
from hub.store.rooms import seatmap_student
from hub.store.users import User
from hub.violation_protocol import LANGS, violation_text

EDITABLE = ("lang", "group_name", "student", "student_no", "discipline", "attestation_date",
            "violation", "proctor_note", "examiner", "head_of_department")


class ProtocolRefused(ValueError):
    """A change the protocol's status does not allow. Its text is an English message id
    marked with ``N_``; the pages show it translated (``gettext(str(exc))``)."""


def N_(message: str) -> str:
    """Marks a message for translation (extracted by pybabel ``-k N_``); returns it as is."""
    return message


def confirm_with_protocol(conn: sqlite3.Connection, alert_id: str, user: User,
                          lang: str = "kk", timezone: str = "Asia/Almaty") -> list[Change]:
    """The proctor's *Confirm violation*: decide the alert and open its protocol (draft)."""
    changes = decide(conn, alert_id, user, "confirmed")
    create_draft(conn, alert_id, user.id, lang, timezone)
    return changes


def create_draft(conn: sqlite3.Connection, alert_id: str, user_id: int | None,
                 lang: str = "kk", timezone: str = "Asia/Almaty") -> int:
    """The alert's protocol, prefilled (an existing one is returned as it is)."""
    old = conn.execute("SELECT id FROM protocols WHERE alert_id=?", (alert_id,)).fetchone()
    if old is not None:
        return int(old[0])
    a = conn.execute("SELECT * FROM alerts WHERE alert_id=?", (alert_id,)).fetchone()
    if a is None:
        raise ProtocolRefused(N_("no such alert"))
    sid = scope.alert_session(conn, alert_id)            # the alert's own exam
    s = exam_sessions.get(conn, sid) if sid is not None else None
    st = exam_sessions.student_at(conn, sid, a["seat"])
    student, number, group = (st["name"], st["student_no"], st["group_name"]) if st else \
        (seatmap_student(conn, a["building"], a["room"], a["seat"]), "", "")
    when = datetime.fromisoformat(a["trusted_started_at"].replace("Z", "+00:00"))
    notes = [r[0] for r in conn.execute("SELECT text FROM alert_notes WHERE alert_id=?"
                                        " ORDER BY id", (alert_id,))]
    now = now_iso()
    cur = conn.execute(
        "INSERT INTO protocols (alert_id, session_id, lang, group_name, student, student_no,"
        " discipline, attestation_date, violation, proctor_note, examiner,"
        " head_of_department, building, room, seat, created_by, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (alert_id, sid, lang if lang in LANGS else "kk", group, student, number,
         s["discipline"] if s else "", when.astimezone(ZoneInfo(timezone)).date().isoformat(),
         violation_text(a["rule"], lang if lang in LANGS else "kk"), "\n".join(notes),
         s["examiner"] if s else "", s["head_of_department"] if s else "",
         a["building"], a["room"], a["seat"], user_id, now, now))
    return int(cur.lastrowid)


def get(conn: sqlite3.Connection, protocol_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM protocols WHERE id=?", (protocol_id,)).fetchone()
    return dict(row) if row else None


def for_alert(conn: sqlite3.Connection, alert_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM protocols WHERE alert_id=?", (alert_id,)).fetchone()
    return dict(row) if row else None


def _own_proctor(conn: sqlite3.Connection, protocol: dict[str, Any], user: User) -> bool:
    """A proctor of the protocol's session (of a protocol without one: who opened it)."""
    if user.role != "proctor":
        return False
    sid = protocol["session_id"]
    if sid is None:
        return protocol["created_by"] == user.id
    return exam_sessions.is_proctor(conn, sid, user.id)


def _building_dean(conn: sqlite3.Connection, protocol: dict[str, Any], user: User) -> bool:
    return user.role == "dean" and protocol["building"] in accounts.buildings(conn, user.id)


def may_see(conn: sqlite3.Connection, protocol: dict[str, Any], user: User) -> bool:
    """The proctors of its session and the deans of its building (docs/security.md)."""
    return _own_proctor(conn, protocol, user) or _building_dean(conn, protocol, user)


def may_prepare(conn: sqlite3.Connection, protocol: dict[str, Any], user: User) -> bool:
    """Edit the draft and issue it for signing: the proctors of its session (the examiner
    fills it in and has it signed); a dean controls, and does not write it."""
    return _own_proctor(conn, protocol, user)


def may_record_signed(conn: sqlite3.Connection, protocol: dict[str, Any], user: User) -> bool:
    """Upload the copy signed by the examiner and the head of department: whoever holds the
    paper, its session's proctor or its building's dean."""
    return may_see(conn, protocol, user)


def may_schedule_retake(conn: sqlite3.Connection, protocol: dict[str, Any],
                        user: User) -> bool:
    """Schedule the retake of a signed protocol: the deans of its building."""
    return _building_dean(conn, protocol, user)


def listing(conn: sqlite3.Connection, user: User) -> list[dict[str, Any]]:
    rows = [dict(r) for r in conn.execute("SELECT * FROM protocols ORDER BY id DESC LIMIT 500")]
    return [r for r in rows if may_see(conn, r, user)]


def update(conn: sqlite3.Connection, protocol_id: int, fields: dict[str, str]) -> None:
    """Edit a draft's fields (only those in EDITABLE)."""
    p = get(conn, protocol_id)
    if p is None:
        raise ProtocolRefused(N_("no such protocol"))
    if p["status"] != "draft":
        raise ProtocolRefused(N_("only a draft can be edited"))
    values = {k: str(v)[:4000] for k, v in fields.items() if k in EDITABLE}
    if "lang" in values and values["lang"] not in LANGS:
        raise ProtocolRefused(N_("unknown language"))
    if "attestation_date" in values:
        _date(values["attestation_date"])
    if not values:
        return
    sets = ", ".join(f"{k}=?" for k in values)
    conn.execute(f"UPDATE protocols SET {sets}, updated_at=? WHERE id=?",
                 (*values.values(), now_iso(), protocol_id))


def issue(conn: sqlite3.Connection, protocol_id: int, pdf_file: str, pdf_sha256: str,
          seen_updated_at: str) -> None:
    """Issue a draft with its frozen PDF (rendered from the version ``seen_updated_at``)."""
    p = get(conn, protocol_id)
    if p is None or p["status"] != "draft":
        raise ProtocolRefused(N_("only a draft can be issued"))
    if p["updated_at"] != seen_updated_at:
        raise ProtocolRefused(N_("the protocol changed meanwhile; issue it again"))
    conn.execute("UPDATE protocols SET status='issued', issued_at=?, pdf_file=?, pdf_sha256=?,"
                 " updated_at=? WHERE id=?",
                 (now_iso(), pdf_file, pdf_sha256, now_iso(), protocol_id))


def sign(conn: sqlite3.Connection, protocol_id: int, signed_file: str, sha256: str) -> None:
    """The scanned signed copy arrived."""
    p = get(conn, protocol_id)
    if p is None or p["status"] != "issued":
        raise ProtocolRefused(N_("only an issued protocol can be signed"))
    conn.execute("UPDATE protocols SET status='signed', signed_at=?, signed_file=?,"
                 " signed_sha256=?, updated_at=? WHERE id=?",
                 (now_iso(), signed_file, sha256, now_iso(), protocol_id))


def schedule_retake(conn: sqlite3.Connection, protocol_id: int, on: str) -> None:
    _date(on)
    p = get(conn, protocol_id)
    if p is None or p["status"] not in ("signed", "retake_scheduled"):
        raise ProtocolRefused(N_("the retake is scheduled once the protocol is signed"))
    conn.execute("UPDATE protocols SET status='retake_scheduled', retake_on=?, updated_at=?"
                 " WHERE id=?", (on, now_iso(), protocol_id))


def _date(text: str) -> None:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ProtocolRefused(N_("the date must be written as YYYY-MM-DD")) from None


def evidence(conn: sqlite3.Connection, alert_id: str) -> list[sqlite3.Row]:
    """The evidence the protocol holds: every file of its alert."""
    return conn.execute("SELECT * FROM evidence WHERE alert_id=? ORDER BY kind, captured_at",
                        (alert_id,)).fetchall()


def retakes(conn: sqlite3.Connection, discipline: str | None = None) -> list[sqlite3.Row]:
    """Students sent to retake (issued or later), by discipline then group and name; each
    row also holds what ``may_see`` reads (session, opener, building)."""
    sql = ("SELECT discipline, group_name, student_no, student, attestation_date, status,"
           " retake_on, issued_at, id, session_id, created_by, building FROM protocols"
           " WHERE status <> 'draft'")
    args: tuple = ()
    if discipline:
        sql += " AND discipline = ?"
        args = (discipline,)
    return conn.execute(sql + " ORDER BY discipline, group_name, student", args).fetchall()


def retakes_csv(rows: list[sqlite3.Row], timezone: str = "UTC") -> str:
    """The registrar's CSV (``hub.csv_export``: BOM, no cell a spreadsheet runs). Its dates
    and times are the building's (``timezone``, the hub's zone), named in a column: the
    protocol's issue time is printed there with its offset."""
    return csv_text(["discipline", "group", "student_no", "student", "attestation_date",
                     "status", "retake_on", "issued_at", "time_zone", "protocol"],
                    ([r["discipline"], r["group_name"], r["student_no"], r["student"],
                      r["attestation_date"], r["status"], r["retake_on"] or "",
                      zone.local_text(r["issued_at"], timezone), timezone, r["id"]]
                     for r in rows))
