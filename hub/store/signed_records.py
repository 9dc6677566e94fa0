"""The nodes' signed records as the hub received them (``hub.signatures`` checked each): the
exact signed body, the signature, the chain link, and who signed (``record_signers``).

A record whose predecessor in its node's chain has not arrived is marked ``gap_before``; the
mark goes when the predecessor comes (records may arrive out of order: evidence can come
through a second process). ``chain_segment`` gives the run of a node's chain that covers an
alert's records, with whatever is missing in it, for the protocol and the evidence bundle.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from hub.store import messages

log = logging.getLogger(__name__)


def store(conn: sqlite3.Connection, rec: Any, now: float) -> None:
    """Keep one checked record (``hub.signatures.SignedRecord``)."""
    conn.execute("INSERT OR IGNORE INTO record_signers VALUES (?, ?, ?, ?)",
                 (rec.signer, rec.signer_der, int(rec.signer_is_cert), rec.trust))
    where = (rec.building, rec.room, rec.node, rec.chain_id)
    before = conn.execute(
        "SELECT hash FROM signed_records WHERE building=? AND room=? AND node=? AND"
        " chain_id=? AND seq=?", (*where, rec.seq - 1)).fetchall()
    gap = rec.seq > 1 and not before
    conn.execute(
        "INSERT OR IGNORE INTO signed_records (msg_id, kind, building, room, node, alert_id,"
        " evidence_id, chain_id, seq, prev, hash, body, alg, sig, signer, trust, received_at,"
        " gap_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rec.msg_id, rec.kind, rec.building, rec.room, rec.node, rec.alert_id,
         rec.evidence_id, rec.chain_id, rec.seq, rec.prev, rec.hash, rec.body, rec.alg,
         rec.sig, rec.signer, rec.trust, now, int(gap)))
    conn.execute("UPDATE signed_records SET gap_before = 0 WHERE building=? AND room=? AND"
                 " node=? AND chain_id=? AND seq=?", (*where, rec.seq + 1))
    if gap:
        log.warning("chain gap: %s/%s/%s record %d of chain %s arrived without record %d",
                    rec.building, rec.room, rec.node, rec.seq, rec.chain_id, rec.seq - 1)
        messages.count(conn, "chain_gaps")
    if before and all(b[0] != rec.prev for b in before):
        log.warning("chain broken: %s/%s/%s record %d does not name record %d's hash",
                    rec.building, rec.room, rec.node, rec.seq, rec.seq - 1)
        messages.count(conn, "chain_breaks")


@dataclass(frozen=True)
class Segment:
    """A run of one node's chain: its records by ``seq`` and the numbers missing in it."""

    records: list[sqlite3.Row]
    missing: list[int]
    signers: dict[str, sqlite3.Row]

    @property
    def complete(self) -> bool:
        return not self.missing


def alert_records(conn: sqlite3.Connection, alert_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM signed_records WHERE alert_id = ? ORDER BY chain_id,"
                        " seq", (alert_id,)).fetchall()


def chain_segment(conn: sqlite3.Connection, alert_id: str) -> Segment:
    """Every record of the alert's node chain(s) from the alert's first record to its last
    (other alerts' records between them included: they link the chain), and the numbers the
    hub does not have."""
    records: list[sqlite3.Row] = []
    missing: list[int] = []
    for chain in conn.execute(
            "SELECT building, room, node, chain_id, MIN(seq), MAX(seq) FROM signed_records"
            " WHERE alert_id = ? GROUP BY building, room, node, chain_id ORDER BY MIN(seq)",
            (alert_id,)).fetchall():
        b, r, n, chain_id, first, last = chain
        rows = conn.execute(
            "SELECT * FROM signed_records WHERE building=? AND room=? AND node=? AND"
            " chain_id=? AND seq BETWEEN ? AND ? ORDER BY seq, received_at",
            (b, r, n, chain_id, first, last)).fetchall()
        have = {row["seq"] for row in rows}
        missing += [s for s in range(first, last + 1) if s not in have]
        records += rows
    fps = sorted({row["signer"] for row in records})
    signers = {row["fingerprint"]: row for row in conn.execute(
        f"SELECT * FROM record_signers WHERE fingerprint IN ({','.join('?' * len(fps))})",
        fps).fetchall()} if fps else {}
    return Segment(records, missing, signers)


def evidence_signatures(conn: sqlite3.Connection, alert_id: str) -> dict[str, sqlite3.Row]:
    """The signed record of each of an alert's evidence files, by evidence id, with its
    signer's certificate or key (``der``, ``is_cert``)."""
    rows = conn.execute(
        "SELECT r.evidence_id, r.alg, r.sig, r.signer, r.trust, s.der, s.is_cert"
        " FROM signed_records r JOIN record_signers s ON s.fingerprint = r.signer"
        " WHERE r.alert_id = ? AND r.kind = 'evidence' ORDER BY r.received_at",
        (alert_id,)).fetchall()
    return {row["evidence_id"]: row for row in rows}


def forget_evidence(conn: sqlite3.Connection, evidence_id: str) -> int:
    """Delete an evidence file's signed record with the file (retention), unless a protocol
    holds it: a protocol's evidence bundle needs every record of its node's chain from its
    alert's first record to its last, other alerts' records included. How many went."""
    gone = 0
    for rec in conn.execute("SELECT msg_id, building, room, node, chain_id, seq FROM"
                            " signed_records WHERE kind = 'evidence' AND evidence_id = ?",
                            (evidence_id,)).fetchall():
        held = conn.execute(
            "SELECT 1 FROM signed_records h JOIN protocols p ON p.alert_id = h.alert_id"
            " WHERE h.building=? AND h.room=? AND h.node=? AND h.chain_id=?"
            " GROUP BY h.alert_id HAVING MIN(h.seq) <= ? AND MAX(h.seq) >= ? LIMIT 1",
            (rec["building"], rec["room"], rec["node"], rec["chain_id"], rec["seq"],
             rec["seq"])).fetchone()
        if held is None:
            conn.execute("DELETE FROM signed_records WHERE msg_id = ?", (rec["msg_id"],))
            gone += 1
    return gone


def alert_signers(conn: sqlite3.Connection, alert_id: str) -> list[sqlite3.Row]:
    """Who signed an alert's records, once each: ``fingerprint``, ``der``, ``is_cert`` and
    the ``trust`` the hub gave the records."""
    return conn.execute(
        "SELECT DISTINCT s.fingerprint, s.der, s.is_cert, r.trust FROM signed_records r"
        " JOIN record_signers s ON s.fingerprint = r.signer WHERE r.alert_id = ?"
        " ORDER BY s.fingerprint, r.trust", (alert_id,)).fetchall()


def node_gaps(conn: sqlite3.Connection) -> dict[tuple[str, str, str], int]:
    """Per node (building, room, node): its records whose predecessor has not arrived."""
    return {(r[0], r[1], r[2]): r[3] for r in conn.execute(
        "SELECT building, room, node, COUNT(*) FROM signed_records WHERE gap_before = 1"
        " GROUP BY building, room, node")}


def alert_flags(conn: sqlite3.Connection, alert_id: str) -> dict[str, Any]:
    """What the hub knows of an alert's records: how many are signed and by what trust, and
    whether the chain around them has a gap."""
    rows = alert_records(conn, alert_id)
    segment = chain_segment(conn, alert_id) if rows else Segment([], [], {})
    return {"signed": len(rows), "trust": sorted({r["trust"] for r in rows}),
            "missing": segment.missing,
            "gap": bool(segment.missing) or any(r["gap_before"] for r in rows)}
