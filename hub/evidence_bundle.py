"""An alert's evidence bundle (the format is ``kuzet.bundle``'s): the node's signed records as
the hub received them, the signers, the evidence files and the protocol, in one zip that
``kuzet verify`` checks offline. No Flask here; the SQL is ``hub.store.signed_records``'s.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from hub.evidence import EvidenceFolder
from hub.store import signed_records
from kuzet import bundle


def manifest(conn: sqlite3.Connection, alert_id: str, alert: sqlite3.Row,
             files: list[dict[str, Any]]) -> dict[str, Any]:
    segment = signed_records.chain_segment(conn, alert_id)
    return {
        "format": bundle.FORMAT,
        "alert_id": alert_id,
        "origin": {"building": alert["building"], "room": alert["room"],
                   "node": alert["node"]},
        "records": [{"body": r["body"], "alg": r["alg"], "sig": r["sig"],
                     "signer": r["signer"], "received_at": r["received_at"]}
                    for r in segment.records],
        "missing": segment.missing,
        "signers": {fp: {"der": s["der"], "is_cert": bool(s["is_cert"]), "trust": s["trust"]}
                    for fp, s in segment.signers.items()},
        "files": files,
    }


def build(conn: sqlite3.Connection, alert_id: str, alert: sqlite3.Row,
          evidence_rows: list[sqlite3.Row], folder: EvidenceFolder,
          protocol_pdf: bytes | None, crl_file: Path | None = None) -> bytes:
    """The zip for ``alert_id``; its evidence files as the hub holds them (a file that is
    gone, e.g. to retention, is left out and ``kuzet verify`` says so); the CA's revocation
    list ``crl_file`` if there is one (provisioning rewrites it on every revocation)."""
    files: list[dict[str, Any]] = []
    contents: dict[str, bytes] = {}
    for e in evidence_rows:
        try:
            data = folder.resolve(e["file"]).read_bytes()
        except (OSError, ValueError):
            continue
        name = f"evidence/{e['evidence_id']}{Path(e['file']).suffix}"
        contents[name] = data
        files.append({"evidence_id": e["evidence_id"], "kind": e["kind"], "file": name,
                      "sha256": e["sha256"]})
    try:
        crl = crl_file.read_bytes() if crl_file is not None else None
    except OSError:
        crl = None
    return bundle.write_bundle(manifest(conn, alert_id, alert, files), contents, protocol_pdf,
                               crl)
