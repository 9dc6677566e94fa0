"""Alerts and their evidence: what ingest stores from the nodes' messages, the proctor's
decisions and notes, and the views the pages read.

The ingest functions run inside the writer's transaction and return the ``Change`` they
made (nothing for a message that changes nothing); an alert's later message never rolls
back an earlier close.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any

from hub import clocks, triage
from hub.store import check_ins
from hub.store.changes import Change
from hub.store.db import iso, now_iso
from hub.store.scope import ALERT_SESSION
from hub.store.users import User
from kuzet import contract

DISMISS_REASONS = ("allowed_aid", "detection_error", "proctor_nearby", "wrong_seat", "other")


class ActionRefused(ValueError):
    """A proctor action that cannot apply (e.g. the alert is already decided)."""


# -- ingest -----------------------------------------------------------------------------------
def apply_alert(conn: sqlite3.Connection, msg: contract.AlertMessage, now: float,
                max_skew_s: float | None = None, max_age_s: float | None = None
                ) -> list[Change]:
    """Store an alert message; its first one dates the alert (``trusted_started_at``: the
    node's ``started_at`` unless its clock is off by more than ``max_skew_s`` or the time is
    older than ``max_age_s``, see ``hub.clocks``; None believes the node)."""
    o = msg.origin
    old = conn.execute("SELECT * FROM alerts WHERE alert_id = ?", (msg.alert_id,)).fetchone()
    sent = iso(msg.sent_at)
    refs = [r.model_dump() for r in msg.evidence]
    if old is None:
        started = clocks.trusted(msg.started_at, msg.sent_at, now, max_skew_s,
                                 _node_skew(conn, o), max_age_s)
        conn.execute(
            "INSERT INTO alerts (alert_id, building, room, node, seat, rule, advisory,"
            " session_id, started_at, trusted_started_at, ended_at, duration_s, score, detail,"
            " evidence_refs, status, last_event, last_sent_at, received_at, updated_at, version)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)",
            (msg.alert_id, o.building, o.room, o.node, msg.seat, msg.rule.value,
             int(msg.advisory), msg.session_id, iso(msg.started_at), iso(started),
             iso(msg.ended_at), msg.duration_s, msg.score, json.dumps(msg.detail),
             json.dumps(refs), "closed" if msg.event == contract.AlertEvent.CLOSE else "open",
             msg.event.value, sent, now, now))
    else:
        if (old["building"], old["room"], old["node"]) != (o.building, o.room, o.node):
            raise ValueError(f"alert {msg.alert_id} belongs to another node")
        closing = msg.event == contract.AlertEvent.CLOSE
        # Which message is newer: the node measures an incident's duration on its monotonic
        # clock, so it only grows; sent_at (wall clock) breaks ties. A node whose clock NTP
        # set back still has its later updates taken as later.
        newer = (msg.duration_s, sent) >= (old["duration_s"], old["last_sent_at"])
        if old["status"] == "closed" and not closing:
            newer = False                       # a late update never reopens a closed alert
        merged = {r["evidence_id"]: r for r in json.loads(old["evidence_refs"])}
        merged.update({r["evidence_id"]: r for r in refs})
        if newer or closing:
            conn.execute(
                "UPDATE alerts SET ended_at = COALESCE(?, ended_at),"
                " duration_s = MAX(duration_s, ?),"
                " score = MAX(score, ?), detail = ?, evidence_refs = ?, status = ?,"
                " last_event = ?, last_sent_at = MAX(last_sent_at, ?), updated_at = ?,"
                " version = version + 1 WHERE alert_id = ?",
                (iso(msg.ended_at), msg.duration_s, msg.score,
                 json.dumps(msg.detail) if newer else old["detail"],
                 json.dumps(list(merged.values())),
                 "closed" if closing or old["status"] == "closed" else "open",
                 msg.event.value if newer else old["last_event"], sent, now, msg.alert_id))
        elif len(merged) != len(json.loads(old["evidence_refs"])):
            conn.execute("UPDATE alerts SET evidence_refs = ?, updated_at = ?,"
                         " version = version + 1 WHERE alert_id = ?",
                         (json.dumps(list(merged.values())), now, msg.alert_id))
        else:
            return []
    return [Change("alert", o.building, o.room, msg.alert_id)]


def evidence_sha(conn: sqlite3.Connection, evidence_id: str) -> str | None:
    """The sha256 recorded for an evidence id, or None if it is new."""
    row = conn.execute("SELECT sha256 FROM evidence WHERE evidence_id = ?",
                       (evidence_id,)).fetchone()
    return row[0] if row else None


def evidence_owner(conn: sqlite3.Connection, alert_id: str) -> tuple[str, str, str] | None:
    """Which node may send evidence under ``alert_id`` (building, room, node): that alert's,
    or the one a snapshot or check-in command of that id went to; None while neither is
    known."""
    row = conn.execute("SELECT building, room, node FROM alerts WHERE alert_id = ?"
                       " UNION ALL SELECT building, room, node FROM commands"
                       " WHERE msg_id = ? AND action IN ('snapshot', 'check_in') LIMIT 1",
                       (alert_id, alert_id)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def _node_skew(conn: sqlite3.Connection, o: contract.Origin) -> float | None:
    """How far off the node's clock was at its last heartbeat (None: not known)."""
    row = conn.execute("SELECT clock_skew_s FROM nodes WHERE building=? AND room=? AND node=?",
                       (o.building, o.room, o.node)).fetchone()
    return row[0] if row else None


def apply_evidence(conn: sqlite3.Connection, msg: contract.EvidenceMessage, relative: str,
                   now: float, max_skew_s: float | None = None,
                   max_age_s: float | None = None) -> list[Change]:
    """Record an evidence file (already written as ``relative``) and touch its alert; it is
    dated like an alert (``trusted_captured_at``)."""
    o = msg.origin
    captured = clocks.trusted(msg.captured_at, msg.sent_at, now, max_skew_s,
                              _node_skew(conn, o), max_age_s)
    cur = conn.execute(
        "INSERT OR IGNORE INTO evidence (evidence_id, alert_id, building, room, node, kind,"
        " content_type, sha256, size, captured_at, trusted_captured_at, file, received_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (msg.evidence_id, msg.alert_id, o.building, o.room, o.node, msg.kind,
         msg.content_type, msg.sha256, msg.size, iso(msg.captured_at), iso(captured), relative,
         now))
    if cur.rowcount == 0:
        return []
    if msg.kind == "check-in":            # a proctor's check-in crop: no alert to touch
        check_ins.crop_arrived(conn, msg)
        return []
    cur = conn.execute("UPDATE alerts SET version = version + 1, updated_at = ?"
                       " WHERE alert_id = ?", (now, msg.alert_id))
    return [Change("alert", o.building, o.room, msg.alert_id)] if cur.rowcount else []


# -- the proctor's decisions ------------------------------------------------------------------
def _current(conn: sqlite3.Connection, alert_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT decision, building, room FROM alerts WHERE alert_id = ?",
                       (alert_id,)).fetchone()
    if row is None:
        raise ActionRefused("no such alert")
    return row


def _changed(row: sqlite3.Row, alert_id: str) -> list[Change]:
    return [Change("alert", row["building"], row["room"], alert_id)]


def acknowledge(conn: sqlite3.Connection, alert_id: str, user: User) -> list[Change]:
    """I am on it. Only a new alert can be acknowledged; doing it twice changes nothing."""
    row = _current(conn, alert_id)
    if row["decision"] != "new":
        return []
    conn.execute("UPDATE alerts SET decision='acknowledged', ack_by=?, ack_at=?,"
                 " version = version + 1 WHERE alert_id=?", (user.id, now_iso(), alert_id))
    return _changed(row, alert_id)


def decide(conn: sqlite3.Connection, alert_id: str, user: User, decision: str,
           reason: str | None = None) -> list[Change]:
    """Dismiss as a false alarm (with a reason from DISMISS_REASONS) or confirm as a
    violation. Final: a decided alert cannot be decided again here."""
    if decision not in ("dismissed", "confirmed"):
        raise ActionRefused(f"unknown decision {decision!r}")
    if decision == "dismissed" and reason not in DISMISS_REASONS:
        raise ActionRefused("a dismissal needs a reason from the list")
    row = _current(conn, alert_id)
    if row["decision"] in ("dismissed", "confirmed"):
        raise ActionRefused(f"already {row['decision']}")
    now = now_iso()
    conn.execute("UPDATE alerts SET decision=?, decided_by=?, decided_at=?, dismiss_reason=?,"
                 " ack_by=COALESCE(ack_by, ?), ack_at=COALESCE(ack_at, ?),"
                 " version = version + 1 WHERE alert_id=?",
                 (decision, user.id, now, reason if decision == "dismissed" else None,
                  user.id, now, alert_id))
    return _changed(row, alert_id)


def add_note(conn: sqlite3.Connection, alert_id: str, user: User, text: str) -> list[Change]:
    text = text.strip()
    if not text:
        raise ActionRefused("an empty note")
    row = _current(conn, alert_id)
    conn.execute("INSERT INTO alert_notes (alert_id, user_id, text, at) VALUES (?,?,?,?)",
                 (alert_id, user.id, text[:2000], now_iso()))
    conn.execute("UPDATE alerts SET version = version + 1 WHERE alert_id=?", (alert_id,))
    return _changed(row, alert_id)


# -- reads ------------------------------------------------------------------------------------
def alert_view(conn: sqlite3.Connection, alert_id: str) -> dict[str, Any]:
    """One alert as the pages show it (the live pages get the same JSON)."""
    row = conn.execute(
        "SELECT a.*, ua.username AS ack_name, ud.username AS decided_name,"
        f" {ALERT_SESSION} AS exam_session FROM alerts a"
        " LEFT JOIN users ua ON ua.id = a.ack_by LEFT JOIN users ud ON ud.id = a.decided_by"
        " WHERE alert_id = ?", (alert_id,)).fetchone()
    ev = conn.execute("SELECT evidence_id, kind FROM evidence WHERE alert_id = ?",
                      (alert_id,)).fetchall()
    kinds = {e["kind"]: e["evidence_id"] for e in ev}
    notes = conn.execute("SELECT COUNT(*) FROM alert_notes WHERE alert_id = ?",
                         (alert_id,)).fetchone()[0]
    return {
        "alert_id": row["alert_id"], "building": row["building"], "room": row["room"],
        "node": row["node"], "seat": row["seat"], "rule": row["rule"],
        "advisory": bool(row["advisory"]), "started_at": row["started_at"],
        "ended_at": row["ended_at"], "duration_s": row["duration_s"], "score": row["score"],
        "status": row["status"], "decision": row["decision"],
        "ack_by": row["ack_name"], "ack_at": row["ack_at"],
        "decided_by": row["decided_name"], "decided_at": row["decided_at"],
        "dismiss_reason": row["dismiss_reason"], "version": row["version"],
        "received_at": row["received_at"], "notes": notes, "session": row["exam_session"],
        "thumb": kinds.get("crop") or kinds.get("snapshot"),
        "evidence": kinds.get("snapshot") or kinds.get("crop") or kinds.get("clip"),
    }


def room_alerts(conn: sqlite3.Connection, building: str, room_: str, limit: int = 100,
                sessions: Collection[int] | None = None) -> list[dict[str, Any]]:
    """The room's alerts, newest first; only those of ``sessions`` if given
    (``hub.store.scope``: the session an alert belongs to)."""
    if sessions is None:
        ids = conn.execute("SELECT alert_id FROM alerts WHERE building=? AND room=?"
                           " ORDER BY received_at DESC LIMIT ?",
                           (building, room_, limit)).fetchall()
    else:
        wanted = sorted(set(sessions))
        marks = ",".join("?" * len(wanted)) or "NULL"
        ids = conn.execute(f"SELECT alert_id FROM alerts a WHERE building=? AND room=?"
                           f" AND {ALERT_SESSION} IN ({marks})"
                           " ORDER BY received_at DESC LIMIT ?",
                           (building, room_, *wanted, limit)).fetchall()
    return [alert_view(conn, r[0]) for r in ids]


# The SQL form of hub.triage.is_open: running and neither confirmed nor dismissed.
OPEN_SQL = "a.status = 'open' AND a.decision IN ('new', 'acknowledged')"


def _scope(sessions: Collection[int] | None) -> tuple[str, tuple]:
    """The WHERE part that keeps the alerts of ``sessions`` (None: every alert)."""
    if sessions is None:
        return "", ()
    wanted = tuple(sorted(set(sessions)))
    marks = ",".join("?" * len(wanted)) or "NULL"
    return f" AND {ALERT_SESSION} IN ({marks})", wanted


def open_alerts(conn: sqlite3.Connection, building: str, room_: str,
                sessions: Collection[int] | None = None, limit: int = 500
                ) -> list[dict[str, Any]]:
    """The room's open incidents (running, undecided) of ``sessions``, in triage order
    (``hub.triage.order``: worst rule first, then the longest running)."""
    where, args = _scope(sessions)
    ids = conn.execute(f"SELECT alert_id FROM alerts a WHERE building=? AND room=? AND {OPEN_SQL}"
                       f"{where} ORDER BY started_at LIMIT ?",
                       (building, room_, *args, limit)).fetchall()
    return triage.order(alert_view(conn, r[0]) for r in ids)


def history_alerts(conn: sqlite3.Connection, building: str, room_: str,
                   sessions: Collection[int] | None = None, limit: int = 30
                   ) -> list[dict[str, Any]]:
    """The room's closed or decided incidents of ``sessions``, the latest to end or be
    decided first, at most ``limit`` (the counts are ``history_counts``)."""
    where, args = _scope(sessions)
    ids = conn.execute(f"SELECT alert_id FROM alerts a WHERE building=? AND room=?"
                       f" AND NOT ({OPEN_SQL}){where}"
                       " ORDER BY COALESCE(decided_at, ended_at, started_at) DESC LIMIT ?",
                       (building, room_, *args, limit)).fetchall()
    return [alert_view(conn, r[0]) for r in ids]


def history_counts(conn: sqlite3.Connection, building: str, room_: str,
                   sessions: Collection[int] | None = None) -> dict[str, Any]:
    """How many incidents of ``sessions`` are history (closed or decided), counted over all
    of them: ``total``, ``by_rule`` and ``by_outcome`` (confirmed, dismissed, unreviewed:
    closed before anyone decided, ``hub.triage.outcome``); and ``open``, how many are not."""
    where, args = _scope(sessions)
    rows = conn.execute(
        f"SELECT {OPEN_SQL} AS open, rule,"
        " CASE WHEN decision IN ('confirmed', 'dismissed') THEN decision ELSE 'unreviewed' END"
        f" AS outcome, COUNT(*) FROM alerts a WHERE building=? AND room=?{where}"
        " GROUP BY 1, 2, 3", (building, room_, *args)).fetchall()
    by_rule: dict[str, int] = {}
    by_outcome = {"confirmed": 0, "dismissed": 0, "unreviewed": 0}
    total = still_open = 0
    for is_open, rule, outcome, n in rows:
        if is_open:
            still_open += n
            continue
        total += n
        by_rule[rule] = by_rule.get(rule, 0) + n
        by_outcome[outcome] += n
    by_rule = dict(sorted(by_rule.items(), key=lambda kv: (triage.rank(kv[0]), kv[0])))
    return {"total": total, "open": still_open, "by_rule": by_rule, "by_outcome": by_outcome}


def room_seat_states(conn: sqlite3.Connection, building: str, room_: str,
                     sessions: Collection[int] | None = None) -> dict[str, str]:
    """Each seat's state over all the alerts of ``sessions``: ``confirmed`` (a confirmed
    violation there) beats ``alert`` (an open incident) beats quiet (absent)."""
    where, args = _scope(sessions)
    rows = conn.execute(
        "SELECT seat, MAX(CASE WHEN decision = 'confirmed' THEN 2"
        f" WHEN {OPEN_SQL} THEN 1 ELSE 0 END) FROM alerts a"
        f" WHERE building=? AND room=? AND seat IS NOT NULL{where} GROUP BY seat",
        (building, room_, *args)).fetchall()
    return {seat: ("confirmed" if s == 2 else "alert") for seat, s in rows if s}


def alert_row(conn: sqlite3.Connection, alert_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()


def alert_notes(conn: sqlite3.Connection, alert_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT n.*, u.username FROM alert_notes n JOIN users u"
                        " ON u.id = n.user_id WHERE alert_id = ? ORDER BY n.id",
                        (alert_id,)).fetchall()


def evidence_row(conn: sqlite3.Connection, evidence_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM evidence WHERE evidence_id = ?",
                        (evidence_id,)).fetchone()


def alert_evidence(conn: sqlite3.Connection, alert_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM evidence WHERE alert_id = ? ORDER BY kind",
                        (alert_id,)).fetchall()


def command_snapshot(conn: sqlite3.Connection, command_id: str) -> sqlite3.Row | None:
    """The snapshot a technician's command asked for (stored under the command's id)."""
    return conn.execute("SELECT * FROM evidence WHERE alert_id = ? AND kind = 'snapshot'",
                        (command_id,)).fetchone()


def evidence_count(conn: sqlite3.Connection) -> int:
    """How many evidence files the hub holds (the ingest benchmark counts what arrived)."""
    return int(conn.execute("SELECT COUNT(*) FROM evidence").fetchone()[0])


def seat_alerts(conn: sqlite3.Connection, building: str, room_: str, seat: str,
                sessions: Collection[int], limit: int = 200) -> list[dict[str, Any]]:
    """One seat's alerts of ``sessions`` (the seat page), newest first."""
    wanted = sorted(set(sessions))
    marks = ",".join("?" * len(wanted)) or "NULL"
    ids = conn.execute(f"SELECT alert_id FROM alerts a WHERE building=? AND room=? AND seat=?"
                       f" AND {ALERT_SESSION} IN ({marks}) ORDER BY received_at DESC LIMIT ?",
                       (building, room_, seat, *wanted, limit)).fetchall()
    return [alert_view(conn, r[0]) for r in ids]
