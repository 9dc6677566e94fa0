"""Reads for the pages: rooms, their alerts and nodes, evidence, the audit log, counters."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from hub.store.messages import alert_view


def _epoch_iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


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
        "last_heard": _epoch_iso(max(heard, default=None)),
    }


def room(conn: sqlite3.Connection, building: str, room_: str) -> dict[str, Any] | None:
    """A room known to the hub (from a seat map or a node), with its parsed seat map."""
    row = conn.execute("SELECT * FROM rooms WHERE building=? AND room=?",
                       (building, room_)).fetchone()
    if row is None:
        seen = conn.execute("SELECT 1 FROM nodes WHERE building=? AND room=? UNION"
                            " SELECT 1 FROM alerts WHERE building=? AND room=? LIMIT 1",
                            (building, room_, building, room_)).fetchone()
        if seen is None:
            return None
        return {"building": building, "room": room_, "title": "", "seatmap": None}
    return {"building": building, "room": room_, "title": row["title"],
            "seatmap": json.loads(row["seatmap"]) if row["seatmap"] else None}


def all_rooms(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT building, room FROM rooms UNION SELECT building, room FROM nodes"
                        " ORDER BY 1, 2").fetchall()
    return [(r[0], r[1]) for r in rows]


def room_alerts(conn: sqlite3.Connection, building: str, room_: str,
                limit: int = 100) -> list[dict[str, Any]]:
    """The room's alerts, newest first."""
    ids = conn.execute("SELECT alert_id FROM alerts WHERE building=? AND room=?"
                       " ORDER BY received_at DESC LIMIT ?", (building, room_, limit)).fetchall()
    return [alert_view(conn, r[0]) for r in ids]


def seat_states(alerts: list[dict[str, Any]]) -> dict[str, str]:
    """Each seat's state: ``confirmed`` beats ``alert`` beats quiet (absent)."""
    states: dict[str, str] = {}
    for a in alerts:
        if not a["seat"]:
            continue
        if a["decision"] == "confirmed":
            states[a["seat"]] = "confirmed"
        elif a["status"] == "open" and a["decision"] in ("new", "acknowledged"):
            states.setdefault(a["seat"], "alert")
    return states


def room_nodes(conn: sqlite3.Connection, building: str | None = None,
               room_: str | None = None) -> list[dict[str, Any]]:
    if building is None:
        rows = conn.execute("SELECT * FROM nodes ORDER BY building, room, node").fetchall()
    else:
        rows = conn.execute("SELECT * FROM nodes WHERE building=? AND room=? ORDER BY node",
                            (building, room_)).fetchall()
    return [node_view(r) for r in rows]


def alert_row(conn: sqlite3.Connection, alert_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()


def evidence_row(conn: sqlite3.Connection, evidence_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM evidence WHERE evidence_id = ?",
                        (evidence_id,)).fetchone()


def alert_evidence(conn: sqlite3.Connection, alert_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM evidence WHERE alert_id = ? ORDER BY kind",
                        (alert_id,)).fetchall()


def alert_notes(conn: sqlite3.Connection, alert_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT n.*, u.username FROM alert_notes n JOIN users u"
                        " ON u.id = n.user_id WHERE alert_id = ? ORDER BY n.id",
                        (alert_id,)).fetchall()


def overview(conn: sqlite3.Connection, since_epoch: float) -> list[dict[str, Any]]:
    """Every room at a glance for the dean: open and confirmed alerts, nodes, last round."""
    out = []
    for building, room_ in all_rooms(conn):
        a = conn.execute(
            "SELECT SUM(status='open' AND decision IN ('new','acknowledged')),"
            " SUM(decision='confirmed'), COUNT(*) FROM alerts"
            " WHERE building=? AND room=? AND received_at >= ?",
            (building, room_, since_epoch)).fetchone()
        nodes = conn.execute("SELECT liveness FROM nodes WHERE building=? AND room=?",
                             (building, room_)).fetchall()
        last = conn.execute("SELECT MAX(at) FROM rounds WHERE building=? AND room=?",
                            (building, room_)).fetchone()[0]
        states = [n[0] for n in nodes]
        out.append({"building": building, "room": room_, "open": a[0] or 0,
                    "confirmed": a[1] or 0, "total": a[2] or 0,
                    "health": ("offline" if "offline" in states else
                               "degraded" if "degraded" in states else
                               "online" if states else "none"),
                    "last_round": last})
    out.sort(key=lambda r: (-r["open"], -r["confirmed"], r["building"], r["room"]))
    return out


def audit_log(conn: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def rejected(conn: sqlite3.Connection, limit: int = 50) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM rejected ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def counters(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute("SELECT name, value FROM counters").fetchall()}


def users(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT id, username, role, display_name, active, created_at"
                        " FROM users ORDER BY username").fetchall()


def sessions(conn: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    return conn.execute("SELECT s.*, u.username AS proctor FROM sessions s JOIN users u"
                        " ON u.id = s.proctor_id ORDER BY s.starts_at DESC LIMIT ?",
                        (limit,)).fetchall()
