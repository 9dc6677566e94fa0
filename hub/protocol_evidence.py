"""What the hub shows of an alert's proof: the protocol attaches each evidence file (an
image's bytes read from the evidence folder) with the node's signature on it, from the signed
records the hub kept (``hub.store.signed_records``), and the state of the node's chain around
the alert; the protocol prints the signature in full, the signer's SHA-256 fingerprint and
the trust, and the evidence bundle holds the signed records themselves. The evidence page
says who signed and whether the chain is complete (``alert_proof``). No Flask; the SQL is
``hub.store``'s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from hub.evidence import EvidenceFolder
from hub.store import signed_records
from hub.violation_protocol import Attachment, Proof
from kuzet.signatures import SignatureError, unb64


def attachments(conn: sqlite3.Connection, alert_id: str, evidence_rows: Iterable[sqlite3.Row],
                folder: EvidenceFolder) -> list[Attachment]:
    """The alert's evidence files as the protocol attaches them."""
    proofs = signed_records.evidence_signatures(conn, alert_id)
    out = []
    for e in evidence_rows:
        data = None
        if e["content_type"] == "image/jpeg":
            try:
                data = folder.resolve(e["file"]).read_bytes()
            except (OSError, ValueError):
                data = None
        rec = proofs.get(e["evidence_id"])
        out.append(Attachment(e["kind"], e["sha256"], e["captured_at"], data,
                              _proof(rec) if rec is not None else None))
    return out


def chain_missing(conn: sqlite3.Connection, alert_id: str) -> int | None:
    """How many records the hub lacks in the node's chain around the alert (0: complete);
    None when the node signed none of the alert's records."""
    flags = signed_records.alert_flags(conn, alert_id)
    if not flags["signed"]:
        return None
    return len(flags["missing"]) or int(flags["gap"])


@dataclass(frozen=True)
class AlertProof:
    """What the evidence page says of an alert's records. ``trust``: "ca" (every record
    signed under the building's CA), "self" (some signed otherwise) or "unsigned"."""

    trust: str
    signers: tuple[str, ...] = ()            # the node certificates' common names
    missing: int = 0                         # records missing in the node's chain around it
    files: dict[str, str] = field(default_factory=dict)   # evidence id -> its record's trust


def alert_proof(conn: sqlite3.Connection, alert_id: str) -> AlertProof:
    signers = signed_records.alert_signers(conn, alert_id)
    if not signers:
        return AlertProof("unsigned")
    trust = "ca" if all(s["trust"] == "ca" for s in signers) else "self"
    names = tuple(sorted({signer_name(s["der"]) for s in signers if s["is_cert"]} - {""}))
    files = {evidence_id: rec["trust"] for evidence_id, rec
             in signed_records.evidence_signatures(conn, alert_id).items()}
    return AlertProof(trust, names, chain_missing(conn, alert_id) or 0, files)


def _proof(rec: sqlite3.Row) -> Proof:
    return Proof(alg=rec["alg"], signature=rec["sig"], signer_fingerprint=rec["signer"],
                 by_certificate=bool(rec["is_cert"]), trust=rec["trust"],
                 signer_name=signer_name(rec["der"]) if rec["is_cert"] else "")


def signer_name(der_b64: str) -> str:
    """The common name of a node certificate (base64 DER), "" if it has none."""
    try:
        cert = x509.load_der_x509_certificate(unb64(der_b64))
    except (SignatureError, ValueError):
        return ""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""
