"""The evidence bundle of an alert, and its offline check (``kuzet verify``).

A zip the hub's protocol page offers (``hub.evidence_bundle`` builds it)::

    manifest.json          what the node signed, as the hub received it (below)
    protocol.pdf           the protocol (when there is one)
    crl.pem                the building's CA's revocation list, as the hub had it (if any)
    evidence/<id>.jpg|avi  the alert's evidence files

``manifest.json``: ``format``, the ``alert_id`` and its ``origin``; ``records``, the run of the
node's chain from the alert's first record to its last, in order (other alerts' records in
between are there too: they link the chain; their files are not), each with its exact signed
``body``, ``alg``, ``sig`` and ``signer``; ``signers``, each signer's certificate or key (base64
DER) by fingerprint; ``files``, the evidence files in the zip.

``verify_bundle`` needs nothing but the zip and the building's CA certificate: it checks every
signature, every signer against the CA and the node the record names, every chain link and
number, every evidence file against the sha256 its signed record gives, and every file the
alert's records name. With a revocation list (the bundle's ``crl.pem`` or one given, each
checked to be the CA's own), a revoked node certificate fails the check. ``kuzet.signatures``
says what is signed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from kuzet.contract import Origin, Signature
from kuzet.signatures import (
    SignatureError,
    Signer,
    check_certificate,
    load_ca,
    record_hash,
    unb64,
    verify,
)

FORMAT = "kuzet-evidence-bundle/1"
MANIFEST = "manifest.json"
PROTOCOL = "protocol.pdf"
CRL = "crl.pem"


def write_bundle(manifest: dict[str, Any], files: dict[str, bytes],
                 protocol_pdf: bytes | None = None, crl_pem: bytes | None = None) -> bytes:
    """The zip: the manifest, the protocol, the CA's CRL and ``files`` (name in the zip ->
    bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
        if protocol_pdf is not None:
            z.writestr(PROTOCOL, protocol_pdf)
        if crl_pem is not None:
            z.writestr(CRL, crl_pem)
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    return buf.getvalue()


@dataclass
class Report:
    """What ``verify_bundle`` found. ``ok``: everything proven, signed by the building's CA."""

    alert_id: str = ""
    records: int = 0
    files: int = 0
    by_ca: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.by_ca


def verify_bundle(data: bytes, ca_pem: bytes | None,
                  crl_pems: Sequence[bytes] = ()) -> Report:
    """Check the bundle ``data`` against the CA certificate ``ca_pem`` and the revocation
    lists ``crl_pems`` (besides the bundle's own)."""
    report = Report()
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(z.read(MANIFEST))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        report.problems.append(f"not an evidence bundle: {exc}")
        return report
    if manifest.get("format") != FORMAT:
        report.problems.append(f"unknown bundle format {manifest.get('format')!r}")
        return report
    ca = load_ca(ca_pem) if ca_pem else None
    report.alert_id = alert_id = str(manifest.get("alert_id", ""))
    origin = Origin.model_validate(manifest["origin"])
    own = [z.read(CRL)] if CRL in z.namelist() else []
    crls = _revocation_lists([*own, *crl_pems], ca, report)
    bodies = _check_records(manifest, origin, ca, crls, report)
    _check_chain(bodies, report)
    _check_files(z, manifest, bodies, alert_id, report)
    if ca is None:
        report.notes.append("no CA given: the signers were not checked against the building's "
                            "CA")
    return report


def _revocation_lists(pems: list[bytes], ca, report: Report
                      ) -> list[x509.CertificateRevocationList]:
    """The CRLs the CA signed; a CRL that does not load or is not the CA's is a problem (a
    verifier cannot tell what it would have revoked)."""
    if ca is None:
        if pems:
            report.notes.append("no CA given: the revocation list was not used")
        return []
    out = []
    for pem in pems:
        try:
            crl = x509.load_pem_x509_crl(pem)
        except ValueError as exc:
            report.problems.append(f"the revocation list does not load: {exc}")
            continue
        if crl.issuer != ca.subject or not crl.is_signature_valid(ca.public_key()):
            report.problems.append("the revocation list is not signed by the building's CA")
            continue
        out.append(crl)
        _note_once(report, f"checked against the CA's revocation list of "
                           f"{crl.last_update_utc:%Y-%m-%d %H:%M}Z")
    return out


def _revoked(cert: x509.Certificate, crls: list[x509.CertificateRevocationList]) -> None:
    for crl in crls:
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            raise SignatureError(f"the node certificate (serial {cert.serial_number:x}) is "
                                 f"revoked (listed {entry.revocation_date_utc:%Y-%m-%d}): "
                                 "it no longer proves who made the record")


def _check_records(manifest: dict, origin: Origin, ca, crls: list, report: Report
                   ) -> list[tuple[int, dict, bytes]]:
    """Each record's signature and signer; the records that verify, as (seq, body, bytes)."""
    signers = manifest.get("signers", {})
    good: list[tuple[int, dict, bytes]] = []
    by_ca = ca is not None
    for rec in manifest.get("records", []):
        body_bytes = str(rec["body"]).encode()
        body = json.loads(body_bytes)
        seq = body.get("chain", {}).get("seq", 0)
        where = f"record {seq} ({body.get('type')} {body.get('id')})"
        signer_info = signers.get(rec.get("signer"), {})
        try:
            der = unb64(signer_info.get("der", ""))
            is_cert = bool(signer_info.get("is_cert"))
            signer = Signer(der, is_cert)
            if signer.fingerprint != rec.get("signer"):
                raise SignatureError("the signer is not the one the record names")
            sig = Signature(alg=rec["alg"], value=rec["sig"],
                            cert=signer_info.get("der") if is_cert else None,
                            key=None if is_cert else signer_info.get("der"))
            verify(body_bytes, sig, signer)
            rec_origin = Origin.model_validate(body["origin"])
            if rec_origin != origin:
                raise SignatureError(f"made by {rec_origin.building}/{rec_origin.room}/"
                                     f"{rec_origin.node}, not by the alert's node")
            if not is_cert:
                by_ca = False
                _note_once(report, "signed with the node's own key: unsigned by the CA")
            elif ca is not None:
                at = dt.datetime.fromisoformat(body["sent_at"].replace("Z", "+00:00"))
                check_certificate(signer.certificate, ca, rec_origin, at)
                _revoked(signer.certificate, crls)
        except (SignatureError, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{where}: {exc}")
            by_ca = False
            continue
        good.append((seq, body, body_bytes))
        report.records += 1
    report.by_ca = by_ca and bool(good)
    if not manifest.get("records"):
        report.problems.append("the bundle holds no signed records")
    return good


def _check_chain(bodies: list[tuple[int, dict, bytes]], report: Report) -> None:
    """Numbers without a hole, each record naming the hash of the one before."""
    chains: dict[str, list[tuple[int, dict, bytes]]] = {}
    for item in bodies:
        chains.setdefault(item[1]["chain"]["id"], []).append(item)
    for chain_id, items in chains.items():
        items.sort(key=lambda t: t[0])
        for (seq_a, _, bytes_a), (seq_b, body_b, _) in zip(items, items[1:], strict=False):
            if seq_b == seq_a:
                report.problems.append(f"chain {chain_id}: two records numbered {seq_a}")
            elif seq_b != seq_a + 1:
                missing = ", ".join(str(s) for s in range(seq_a + 1, seq_b))
                report.problems.append(f"chain {chain_id}: record(s) {missing} missing "
                                       "(dropped from the chain)")
            elif body_b["chain"].get("prev") != record_hash(bytes_a):
                report.problems.append(f"chain {chain_id}: record {seq_b} does not name "
                                       f"record {seq_a}'s hash (changed or replaced)")


def _check_files(z: zipfile.ZipFile, manifest: dict, bodies: list[tuple[int, dict, bytes]],
                 alert_id: str, report: Report) -> None:
    """Each file against its signed record; each file the alert's records name is there."""
    evidence = {b["evidence_id"]: b for _, b, _ in bodies
                if b.get("type") == "evidence" and b.get("alert_id") == alert_id}
    named = {ref["evidence_id"]: ref for _, b, _ in bodies
             if b.get("type") == "alert" and b.get("alert_id") == alert_id
             for ref in b.get("evidence", [])}
    listed = {f["evidence_id"]: f for f in manifest.get("files", [])}
    in_zip = {n for n in z.namelist() if n.startswith("evidence/")}
    for evidence_id in sorted(set(named) - set(evidence)):
        report.problems.append(f"evidence {evidence_id}: named by the alert, but its signed "
                               "record is not in the bundle")
    for evidence_id, body in sorted(evidence.items()):
        entry = listed.get(evidence_id)
        if entry is None or entry.get("file") not in in_zip:
            report.problems.append(f"evidence {evidence_id} ({body['kind']}): its file is not "
                                   "in the bundle")
            continue
        data = z.read(entry["file"])
        in_zip.discard(entry["file"])
        if len(data) != body["size"] or hashlib.sha256(data).hexdigest() != body["sha256"]:
            report.problems.append(f"evidence {evidence_id} ({entry['file']}): the file is not "
                                   "the one the node signed (sha256 differs)")
            continue
        ref = named.get(evidence_id)
        if ref is not None and ref["sha256"] != body["sha256"]:
            report.problems.append(f"evidence {evidence_id}: the alert names another sha256")
            continue
        report.files += 1
    for name in sorted(in_zip):
        report.problems.append(f"{name}: a file no signed record vouches for")


def _note_once(report: Report, text: str) -> None:
    if text not in report.notes:
        report.notes.append(text)
