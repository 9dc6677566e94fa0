"""Signed, chained records: what a node signs, how a record names the one before it, and how
a signature and its signer are checked. Shared by the node (``edge.signing``), the hub's ingest
(``hub.signatures``) and the offline ``kuzet verify`` (``kuzet.bundle``).

* A **record** is an alert or evidence message that carries ``chain`` and ``sig``.
* Its **signed body** is the message's JSON object without ``sig`` and without ``data`` (an
  evidence file's bytes, vouched for by its ``sha256`` and ``size``), written with sorted
  keys, no spaces, UTF-8 (``signed_body``). Receivers compute it from the payload they got and
  keep those exact bytes, so a verifier never has to re-create them.
* A record's **hash** is the sha256 of its signed body; the next record of the node names it
  in ``chain.prev``: a record dropped or changed breaks the chain.
* The **signer** is the node's certificate from the building's CA (ECDSA P-256: ``ES256``),
  or a key of the node's own where it runs without one: then the signature still proves the
  records unchanged and in order, but not which node made them ("unsigned by the CA").
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from kuzet.contract import Origin, Signature

UNSIGNED_FIELDS = ("sig", "data")


class SignatureError(ValueError):
    """A signature that does not verify, or a signer that is not who the record says."""


def signed_body(message: dict[str, Any]) -> bytes:
    """The bytes a node signs: the message without ``sig`` and ``data``, canonical JSON."""
    fields = {k: v for k, v in message.items() if k not in UNSIGNED_FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def body_of_payload(payload: bytes) -> bytes:
    return signed_body(json.loads(payload))


def record_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def fingerprint(der: bytes) -> str:
    """sha256 of a certificate's (or a public key's) DER, as hex: what the protocol prints."""
    return hashlib.sha256(der).hexdigest()


def node_common_name(origin: Origin) -> str:
    """The common name the building's CA gives a node's certificate."""
    return f"node.{origin.building}.{origin.room}.{origin.node}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise SignatureError(f"not base64: {exc}") from None


def alg_of(public_key) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey) \
            and isinstance(public_key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    raise SignatureError(f"a {type(public_key).__name__} key cannot sign records "
                         "(ECDSA P-256 or Ed25519)")


def sign(private_key, body: bytes) -> bytes:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(body)
    return private_key.sign(body, ec.ECDSA(hashes.SHA256()))


@dataclass(frozen=True)
class Signer:
    """Who signed a record: ``der`` is the certificate (``is_cert``) or the public key."""

    der: bytes
    is_cert: bool

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.der)

    @cached_property
    def certificate(self) -> x509.Certificate | None:
        return x509.load_der_x509_certificate(self.der) if self.is_cert else None

    @cached_property
    def key(self):
        """The signer's public key, loaded once (a record's check needs it twice)."""
        cert = self.certificate
        if cert is not None:
            return cert.public_key()
        return serialization.load_der_public_key(self.der)


def signer_of(sig: Signature) -> Signer:
    try:
        if sig.cert is not None:
            signer = Signer(unb64(sig.cert), True)
        else:
            signer = Signer(unb64(sig.key or ""), False)
        _ = signer.key          # loads (once), or fails here with the reason
    except ValueError as exc:
        raise SignatureError(f"the signer's {'certificate' if sig.cert else 'key'} does not "
                             f"load: {exc}") from None
    return signer


def verify(body: bytes, sig: Signature, signer: Signer | None = None) -> Signer:
    """Check ``sig`` over ``body`` against its signer; SignatureError if it does not verify."""
    signer = signer or signer_of(sig)
    key = signer.key
    if alg_of(key) != sig.alg:
        raise SignatureError(f"signature says {sig.alg}, the signer's key is {alg_of(key)}")
    value = unb64(sig.value)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(value, body)
        else:
            key.verify(value, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("the signature does not match the record") from None
    return signer


def check_certificate(cert: x509.Certificate, ca: x509.Certificate, origin: Origin,
                      at: dt.datetime | None = None) -> None:
    """The certificate was issued by the building's CA to the node the record names, and was
    valid at ``at`` (default: now); SignatureError says what is wrong."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise SignatureError("the node certificate was not issued by the building's CA") \
            from None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(names[0].value) if names else ""
    if cn != node_common_name(origin):
        raise SignatureError(f"signed with the certificate of {cn!r}, not of "
                             f"{node_common_name(origin)!r}")
    at = at or dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise SignatureError(f"the node certificate was not valid at {at:%Y-%m-%d %H:%M}Z")


def load_ca(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)
