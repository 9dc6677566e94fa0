"""What the writer does with each validated message (the SQL side of ingest).

Every function runs inside the writer's transaction and returns the events that the live
pages should see once it commits. A message id seen before changes nothing (``seen``); an
alert's later message never rolls back an earlier close; statuses apply in arrival order.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from hub.bus import Event
from hub.config import LivenessSection
from hub.liveness import NodeFacts, assess
from hub.store import iso, now_iso
from kuzet import contract


def first_time(conn: sqlite3.Connection, msg_id: str, kind: str, now: float) -> bool:
    """Record a message id; False if it was already there (a duplicate or a replay)."""
    cur = conn.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (msg_id, kind, now))
    return cur.rowcount == 1


def evidence_sha(conn: sqlite3.Connection, evidence_id: str) -> str | None:
    """The sha256 recorded for an evidence id, or None if it is new."""
    row = conn.execute("SELECT sha256 FROM evidence WHERE evidence_id = ?",
                       (evidence_id,)).fetchone()
    return row[0] if row else None


def apply_alert(conn: sqlite3.Connection, msg: contract.AlertMessage,
                now: float) -> list[tuple[str, str, str, str]]:
    """Returns ``("alert", alert_id, building, room)`` if the alert changed (the writer reads
    its view once
    per batch)."""
    o = msg.origin
    old = conn.execute("SELECT * FROM alerts WHERE alert_id = ?", (msg.alert_id,)).fetchone()
    sent = iso(msg.sent_at)
    refs = [r.model_dump() for r in msg.evidence]
    if old is None:
        conn.execute(
            "INSERT INTO alerts (alert_id, building, room, node, seat, rule, advisory,"
            " session_id, started_at, ended_at, duration_s, score, detail, evidence_refs,"
            " status, last_event, last_sent_at, received_at, updated_at, version)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)",
            (msg.alert_id, o.building, o.room, o.node, msg.seat, msg.rule.value,
             int(msg.advisory), msg.session_id, iso(msg.started_at), iso(msg.ended_at),
             msg.duration_s, msg.score, json.dumps(msg.detail), json.dumps(refs),
             "closed" if msg.event == contract.AlertEvent.CLOSE else "open", msg.event.value,
             sent, now, now))
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
    return [("alert", msg.alert_id, o.building, o.room)]


def alert_event(conn: sqlite3.Connection, alert_id: str) -> Event:
    """The live pages' view of one alert, as an event for its room."""
    data = alert_view(conn, alert_id)
    return Event("alert", data["building"], data["room"], data)


def alert_view(conn: sqlite3.Connection, alert_id: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT a.*, ua.username AS ack_name, ud.username AS decided_name FROM alerts a"
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
        "received_at": row["received_at"], "notes": notes,
        "thumb": kinds.get("crop") or kinds.get("snapshot"),
        "evidence": kinds.get("snapshot") or kinds.get("crop") or kinds.get("clip"),
    }


def apply_evidence(conn: sqlite3.Connection, msg: contract.EvidenceMessage, relative: str,
                   now: float) -> list[tuple[str, str, str, str]]:
    o = msg.origin
    cur = conn.execute(
        "INSERT OR IGNORE INTO evidence VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (msg.evidence_id, msg.alert_id, o.building, o.room, o.node, msg.kind,
         msg.content_type, msg.sha256, msg.size, iso(msg.captured_at), relative, now))
    if cur.rowcount == 0:
        return []
    cur = conn.execute("UPDATE alerts SET version = version + 1, updated_at = ?"
                       " WHERE alert_id = ?", (now, msg.alert_id))
    return [("alert", msg.alert_id, o.building, o.room)] if cur.rowcount else []


def apply_status(conn: sqlite3.Connection, msg: contract.StatusMessage, now: float,
                 limits: LivenessSection) -> list[Event]:
    o = msg.origin
    _ensure_node(conn, o)
    # Applied in arrival order, not by ``sent_at``: a last will is written when the node
    # connects, so its ``sent_at`` is older than the statuses it outlives.
    sent = iso(msg.sent_at)
    conn.execute(
        "UPDATE nodes SET status_state=?, status_since=?, status_reasons=?, status_source=?,"
        " status_session=?, status_version=?, status_sent_at=?, status_received_at=?"
        " WHERE building=? AND room=? AND node=?",
        (msg.state, iso(msg.since), json.dumps(msg.reasons),
         msg.source.model_dump_json() if msg.source else None, msg.session_id, msg.version,
         sent, now, o.building, o.room, o.node))
    return refresh_liveness(conn, o.building, o.room, o.node, now, limits, force_event=True)


def apply_heartbeat(conn: sqlite3.Connection, msg: contract.HeartbeatMessage, now: float,
                    limits: LivenessSection) -> list[Event]:
    o = msg.origin
    _ensure_node(conn, o)
    conn.execute("UPDATE nodes SET hb_sent_at=?, hb_received_at=?, heartbeat=?"
                 " WHERE building=? AND room=? AND node=?",
                 (iso(msg.sent_at), now, msg.model_dump_json(exclude={"origin", "schema_"}),
                  o.building, o.room, o.node))
    conn.execute("INSERT INTO heartbeats VALUES (?,?,?,?,?,?,?,?)",
                 (o.building, o.room, o.node, now, msg.fps, msg.disk_free_mb,
                  msg.outbox_depth, msg.inference_ms))
    return refresh_liveness(conn, o.building, o.room, o.node, now, limits)


def _ensure_node(conn: sqlite3.Connection, o: contract.Origin) -> None:
    conn.execute("INSERT OR IGNORE INTO nodes (building, room, node) VALUES (?,?,?)",
                 (o.building, o.room, o.node))


def refresh_liveness(conn: sqlite3.Connection, building: str, room: str, node: str,
                     now: float, limits: LivenessSection, force_event: bool = False) -> list[Event]:
    """Recompute one node's liveness; an event if it changed (or ``force_event``)."""
    row = conn.execute("SELECT * FROM nodes WHERE building=? AND room=? AND node=?",
                       (building, room, node)).fetchone()
    depths = [r[0] for r in conn.execute(
        "SELECT outbox_depth FROM heartbeats WHERE building=? AND room=? AND node=?"
        " ORDER BY received_at DESC LIMIT ?", (building, room, node,
                                               limits.outbox_growing_beats)).fetchall()][::-1]
    hb = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
    heard = [t for t in (row["status_received_at"], row["hb_received_at"]) if t is not None]
    facts = NodeFacts(status_state=row["status_state"], last_heard=max(heard, default=None),
                      fps=hb.get("fps"), disk_free_mb=hb.get("disk_free_mb"),
                      outbox_depths=depths)
    verdict = assess(facts, now, limits)
    reasons = json.dumps(list(verdict.reasons))
    changed = (verdict.state != row["liveness"] or reasons != row["liveness_reasons"]
               or row["liveness_since"] is None)
    if changed:
        since = row["liveness_since"] if verdict.state == row["liveness"] and \
            row["liveness_since"] is not None else now
        conn.execute("UPDATE nodes SET liveness=?, liveness_since=?, liveness_reasons=?"
                     " WHERE building=? AND room=? AND node=?",
                     (verdict.state, since, reasons, building, room, node))
    if not (changed or force_event):
        return []
    return [node_event(conn, building, room, node)]


def node_event(conn: sqlite3.Connection, building: str, room: str, node: str) -> Event:
    from hub.store.queries import node_view

    row = conn.execute("SELECT * FROM nodes WHERE building=? AND room=? AND node=?",
                       (building, room, node)).fetchone()
    return Event("node", building, room, node_view(row))


def sweep_liveness(conn: sqlite3.Connection, now: float, limits: LivenessSection) -> list[Event]:
    """Recompute every node (silence turns a node offline without any message)."""
    events: list[Event] = []
    for r in conn.execute("SELECT building, room, node FROM nodes").fetchall():
        events += refresh_liveness(conn, r[0], r[1], r[2], now, limits)
    return events


def record_rejected(conn: sqlite3.Connection, topic: str, reason: str, keep: int = 1000) -> None:
    """Count an invalid message and keep the latest ``keep`` of them for technicians."""
    conn.execute("INSERT INTO counters VALUES ('rejected', 1)"
                 " ON CONFLICT(name) DO UPDATE SET value = value + 1")
    conn.execute("INSERT INTO rejected (at, topic, reason) VALUES (?, ?, ?)",
                 (now_iso(), topic[:300], reason[:1000]))
    conn.execute("DELETE FROM rejected WHERE id <= (SELECT MAX(id) FROM rejected) - ?", (keep,))


def count(conn: sqlite3.Connection, name: str, n: int = 1) -> None:
    conn.execute("INSERT INTO counters VALUES (?, ?)"
                 " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, n))


def prune(conn: sqlite3.Connection, now: float | None = None) -> None:
    """Forget heartbeats older than an hour and message ids older than 35 days."""
    now = time.time() if now is None else now
    conn.execute("DELETE FROM heartbeats WHERE received_at < ?", (now - 3600,))
    conn.execute("DELETE FROM seen WHERE received_at < ?", (now - 35 * 86400,))
