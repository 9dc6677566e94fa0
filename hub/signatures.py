"""The hub checks each signed record as it comes in (``kuzet.signatures`` says what a record
is): the signature against the node certificate the record carries, that certificate against
the building's CA (the broker's ``ca_file``) and the node the topic names. A record that fails
is refused and counted like any invalid message; a valid one goes to the writer with its signed
body, which the store keeps (``hub.store.signed_records``) for the protocol and the evidence
bundle. A message without a signature (an older node) is stored as before, marked unsigned.

Trust, as the protocol says it:

* ``ca``: signed with a certificate the building's CA issued to this node;
* ``self``: signed with a key of the node's own, or the hub has no CA to check against (plain
  MQTT, the demo): unchanged and in order, but "unsigned by the CA".

No Flask here.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from kuzet import contract, signatures
from kuzet.signatures import SignatureError

log = logging.getLogger(__name__)
TRUST_CA = "ca"
TRUST_SELF = "self"


@dataclass(frozen=True)
class SignedRecord:
    """A record whose signature the hub checked, as the store keeps it."""

    msg_id: str
    kind: str                 # "alert" | "evidence"
    building: str
    room: str
    node: str
    alert_id: str
    evidence_id: str | None
    chain_id: str
    seq: int
    prev: str | None
    hash: str
    body: str                 # the exact signed bytes (UTF-8 JSON)
    alg: str
    sig: str                  # base64
    signer: str               # fingerprint of the certificate or key
    signer_der: str           # base64 DER
    signer_is_cert: bool
    trust: str


class RecordVerifier:
    """``check(msg, payload)``: the record, None for an unsigned message, or SignatureError."""

    def __init__(self, ca: x509.Certificate | None) -> None:
        self.ca = ca
        self._ok: dict[tuple[bytes, str], str] = {}     # (signer der, node cn) -> trust
        self._lock = threading.Lock()

    @classmethod
    def from_ca_file(cls, ca_file: Path | None) -> RecordVerifier:
        if ca_file is None:
            return cls(None)
        return cls(signatures.load_ca(Path(ca_file).read_bytes()))

    def check(self, msg: contract.Message, payload: bytes) -> SignedRecord | None:
        if not isinstance(msg, contract.AlertMessage | contract.EvidenceMessage):
            return None
        if msg.sig is None and msg.chain is None:
            return None
        if msg.sig is None or msg.chain is None:
            raise SignatureError("a signed record needs both 'chain' and 'sig'")
        body = signatures.body_of_payload(payload)
        signer = signatures.verify(body, msg.sig)
        trust = self._trust(signer, msg.origin)
        o, sig = msg.origin, msg.sig
        return SignedRecord(
            msg_id=msg.id, kind=msg.type, building=o.building, room=o.room, node=o.node,
            alert_id=msg.alert_id,
            evidence_id=msg.evidence_id if isinstance(msg, contract.EvidenceMessage) else None,
            chain_id=msg.chain.id, seq=msg.chain.seq, prev=msg.chain.prev,
            hash=signatures.record_hash(body), body=body.decode(), alg=sig.alg, sig=sig.value,
            signer=signer.fingerprint, signer_der=sig.cert or sig.key or "",
            signer_is_cert=signer.is_cert, trust=trust)

    def _trust(self, signer: signatures.Signer, origin: contract.Origin) -> str:
        if self.ca is None or not signer.is_cert:
            return TRUST_SELF
        key = (signer.der, signatures.node_common_name(origin))
        with self._lock:
            if key in self._ok:
                return self._ok[key]
        cert = signer.certificate
        assert cert is not None
        signatures.check_certificate(cert, self.ca, origin, dt.datetime.now(dt.UTC))
        with self._lock:
            if len(self._ok) > 1024:
                self._ok.clear()
            self._ok[key] = TRUST_CA
        return TRUST_CA
