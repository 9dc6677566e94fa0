"""The camera nodes: their statuses and heartbeats, the hub's verdict on their liveness
(``hub.liveness``), and their health as the pages show it.

The ingest functions run inside the writer's transaction and return the ``Change`` they
made. Statuses apply in arrival order.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hub import clocks
from hub.config import LivenessSection
from hub.liveness import Liveness, NodeFacts, assess, from_status
from hub.store.changes import Change
from hub.store.db import iso, now_iso
from kuzet import contract

HISTORY_S = 6 * 3600.0          # heartbeats kept: the technician's pictures show this much


def apply_status(conn: sqlite3.Connection, msg: contract.StatusMessage, now: float,
                 limits: LivenessSection, status_only: bool = False) -> list[Change]:
    """``status_only``: the campus hub's liveness, the node's own word (``from_status``)."""
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
    return refresh_liveness(conn, o.building, o.room, o.node, now, limits, force_change=True,
                            status_only=status_only)


def apply_heartbeat(conn: sqlite3.Connection, msg: contract.HeartbeatMessage, now: float,
                    limits: LivenessSection) -> list[Change]:
    o = msg.origin
    _ensure_node(conn, o)
    # A heartbeat is sent at once or never (not queued), so it measures the node's clock.
    conn.execute("UPDATE nodes SET hb_sent_at=?, hb_received_at=?, heartbeat=?, clock_skew_s=?"
                 " WHERE building=? AND room=? AND node=?",
                 (iso(msg.sent_at), now, msg.model_dump_json(exclude={"origin", "schema_"}),
                  clocks.skew_s(msg.sent_at, now), o.building, o.room, o.node))
    conn.execute("INSERT INTO heartbeats (building, room, node, received_at, fps, disk_free_mb,"
                 " outbox_depth, inference_ms, cpu_temp_c) VALUES (?,?,?,?,?,?,?,?,?)",
                 (o.building, o.room, o.node, now, msg.fps, msg.disk_free_mb,
                  msg.outbox_depth, msg.inference_ms, msg.cpu_temp_c))
    return refresh_liveness(conn, o.building, o.room, o.node, now, limits)


def _ensure_node(conn: sqlite3.Connection, o: contract.Origin) -> None:
    conn.execute("INSERT OR IGNORE INTO nodes (building, room, node) VALUES (?,?,?)",
                 (o.building, o.room, o.node))


def refresh_liveness(conn: sqlite3.Connection, building: str, room: str, node: str,
                     now: float, limits: LivenessSection,
                     force_change: bool = False, status_only: bool = False) -> list[Change]:
    """Recompute one node's liveness; a change if it changed (or ``force_change``);
    ``status_only``: from the node's status alone (the campus hub, ``from_status``)."""
    row = conn.execute("SELECT * FROM nodes WHERE building=? AND room=? AND node=?",
                       (building, room, node)).fetchone()
    if status_only:
        return _store_verdict(conn, row, from_status(row["status_state"]), now, force_change)
    depths = [r[0] for r in conn.execute(
        "SELECT outbox_depth FROM heartbeats WHERE building=? AND room=? AND node=?"
        " ORDER BY received_at DESC LIMIT ?", (building, room, node,
                                               limits.outbox_growing_beats)).fetchall()][::-1]
    hb = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
    heard = [t for t in (row["status_received_at"], row["hb_received_at"]) if t is not None]
    facts = NodeFacts(status_state=row["status_state"], last_heard=max(heard, default=None),
                      fps=hb.get("fps"), disk_free_mb=hb.get("disk_free_mb"),
                      outbox_depths=depths, clock_skew_s=row["clock_skew_s"],
                      over_budget=bool(hb.get("over_budget", False)),
                      worst_seat_revisit_s=hb.get("worst_seat_revisit_s"))
    return _store_verdict(conn, row, assess(facts, now, limits), now, force_change)


def _store_verdict(conn: sqlite3.Connection, row: sqlite3.Row, verdict: Liveness, now: float,
                   force_change: bool) -> list[Change]:
    building, room, node = row["building"], row["room"], row["node"]
    reasons = json.dumps(list(verdict.reasons))
    changed = (verdict.state != row["liveness"] or reasons != row["liveness_reasons"]
               or row["liveness_since"] is None)
    if changed:
        since = row["liveness_since"] if verdict.state == row["liveness"] and \
            row["liveness_since"] is not None else now
        conn.execute("UPDATE nodes SET liveness=?, liveness_since=?, liveness_reasons=?"
                     " WHERE building=? AND room=? AND node=?",
                     (verdict.state, since, reasons, building, room, node))
    if not (changed or force_change):
        return []
    return [Change("node", building, room, node)]


def sweep_liveness(conn: sqlite3.Connection, now: float,
                   limits: LivenessSection) -> list[Change]:
    """Recompute every node (silence turns a node offline without any message)."""
    changes: list[Change] = []
    for r in conn.execute("SELECT building, room, node FROM nodes").fetchall():
        changes += refresh_liveness(conn, r[0], r[1], r[2], now, limits)
    return changes


def record_snapshot_command(conn: sqlite3.Connection, msg: contract.CommandMessage,
                            origin: contract.Origin) -> None:
    """Note a snapshot command sent to a node: its evidence comes under the command's id,
    from that node only (``hub.evidence_binding``)."""
    conn.execute("INSERT OR IGNORE INTO commands (msg_id, at, building, room, node, action,"
                 " payload, published) VALUES (?,?,?,?,?,?,?,1)",
                 (msg.id, now_iso(), origin.building, origin.room, origin.node,
                  msg.action.value, contract.encode(msg).decode()))


def forget_heartbeats(conn: sqlite3.Connection, before: float) -> None:
    """Drop the heartbeats received before ``before`` (epoch seconds)."""
    conn.execute("DELETE FROM heartbeats WHERE received_at < ?", (before,))


# -- reads ------------------------------------------------------------------------------------
def _epoch_iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


class HistoryPoint(NamedTuple):
    """One slice of a node's heartbeat history: ``t`` the slice's middle (epoch seconds), then
    the mean frame rate, inference time and temperature, the least free disk and the deepest
    outbox of the heartbeats in it (the worst, for the two that warn)."""

    t: float
    fps: float
    inference_ms: float
    cpu_temp_c: float | None
    disk_free_mb: float
    outbox_depth: int


def history(conn: sqlite3.Connection, since: float, until: float, points: int = 120
            ) -> dict[tuple[str, str, str], list[HistoryPoint]]:
    """Every node's heartbeats received in [``since``, ``until``), in at most ``points`` equal
    slices each, oldest first; a slice without heartbeats (the node silent) is left out, so
    a gap in the times is a gap in the history."""
    if not until > since or points < 1:
        raise ValueError(f"history: need since < until and points >= 1, got {since}, "
                         f"{until}, {points}")
    width = (until - since) / points
    rows = conn.execute(
        "SELECT building, room, node, MIN(CAST((received_at - ?) / ? AS INTEGER), ?) AS slice,"
        " AVG(fps), AVG(inference_ms), AVG(cpu_temp_c), MIN(disk_free_mb), MAX(outbox_depth)"
        " FROM heartbeats WHERE received_at >= ? AND received_at < ?"
        " GROUP BY building, room, node, slice ORDER BY building, room, node, slice",
        (since, width, points - 1, since, until)).fetchall()
    out: dict[tuple[str, str, str], list[HistoryPoint]] = {}
    for b, r, n, k, fps, ms, temp, disk, depth in rows:
        out.setdefault((b, r, n), []).append(
            HistoryPoint(since + (k + 0.5) * width, fps, ms, temp, disk, depth))
    return out


def node_view(row: sqlite3.Row) -> dict[str, Any]:
    """A node's health as the pages show it (no student data)."""
    hb = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
    heard = [t for t in (row["status_received_at"], row["hb_received_at"]) if t is not None]
    return {
        "building": row["building"], "room": row["room"], "node": row["node"],
        "liveness": row["liveness"], "since": _epoch_iso(row["liveness_since"]),
        "reasons": json.loads(row["liveness_reasons"]),
        "node_reasons": json.loads(row["status_reasons"] or "[]"),
        "status": row["status_state"], "version": row["status_version"],
        "fps": hb.get("fps"), "disk_free_mb": hb.get("disk_free_mb"),
        "outbox_depth": hb.get("outbox_depth"), "cpu_temp_c": hb.get("cpu_temp_c"),
        "inference_ms": hb.get("inference_ms"), "uptime_s": hb.get("uptime_s"),
        "worst_seat_revisit_s": hb.get("worst_seat_revisit_s"),
        "shed": hb.get("shed", []),          # optional work the node sheds to keep up
        "last_heard": _epoch_iso(max(heard, default=None)),
        "clock_skew_s": row["clock_skew_s"],
    }


def node(conn: sqlite3.Connection, building: str, room: str, name: str) -> dict[str, Any]:
    """One node's view."""
    return node_view(conn.execute("SELECT * FROM nodes WHERE building=? AND room=? AND node=?",
                                  (building, room, name)).fetchone())


def room_nodes(conn: sqlite3.Connection, building: str | None = None,
               room_: str | None = None) -> list[dict[str, Any]]:
    """The room's nodes (every node if no room is given)."""
    if building is None:
        rows = conn.execute("SELECT * FROM nodes ORDER BY building, room, node").fetchall()
    else:
        rows = conn.execute("SELECT * FROM nodes WHERE building=? AND room=? ORDER BY node",
                            (building, room_)).fetchall()
    return [node_view(r) for r in rows]


def room_liveness(conn: sqlite3.Connection, building: str, room: str) -> str:
    """The room's health from its nodes: ``offline`` if one is, then ``degraded``, then
    ``online``; ``none`` without nodes."""
    states = [r[0] for r in conn.execute(
        "SELECT liveness FROM nodes WHERE building=? AND room=?", (building, room))]
    return ("offline" if "offline" in states else "degraded" if "degraded" in states
            else "online" if states else "none")
