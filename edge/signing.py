"""The node signs what it reports and chains it: every alert and evidence message that goes
into the outbox names the hash of the one before it and carries the node's signature
(``kuzet.signatures`` says what is signed).

The key is the node's TLS client key from its enrolment (``[broker] key_file``, with
``cert_file`` the certificate the building's CA issued). A node without a certificate (the
demo, tests on plain mosquitto) signs with a key of its own, made once in its data folder
(``signing.key``, 0600): its records still prove themselves unchanged and complete, but the
hub and ``kuzet verify`` report them "unsigned by the CA".

The chain is the outbox's order: ``Sealer.seal`` is called where a message enters the outbox
(``edge.outbox_writer``), on one thread; its head is saved with the record in the outbox's
own transaction (``Outbox.add(chain=...)``), so a restart continues the chain where it was.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.outbox import ChainHead
from kuzet import contract, signatures
from kuzet.errors import KuzetError

log = logging.getLogger(__name__)
OWN_KEY = "signing.key"
SIGNED_KINDS = ("alert", "evidence")


class SigningError(KuzetError):
    pass


class NodeKey:
    """A private key and who it is: the node's certificate, or (None) its own key."""

    def __init__(self, private_key, cert_der: bytes | None) -> None:
        self.private_key = private_key
        self.cert_der = cert_der
        public = private_key.public_key()
        self.alg = signatures.alg_of(public)
        self._signer = contract.Signature(
            alg=self.alg, value="AA==",
            cert=signatures.b64(cert_der) if cert_der else None,
            key=None if cert_der else signatures.b64(public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)))

    @property
    def by_ca(self) -> bool:
        return self.cert_der is not None

    def sign(self, body: bytes) -> contract.Signature:
        value = signatures.b64(signatures.sign(self.private_key, body))
        return self._signer.model_copy(update={"value": value})

    @classmethod
    def from_files(cls, cert_file: Path, key_file: Path) -> NodeKey:
        """The node's enrolment certificate and key (PEM)."""
        try:
            key = serialization.load_pem_private_key(Path(key_file).read_bytes(), None)
            cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise SigningError(f"cannot load the node's key {key_file} or certificate "
                               f"{cert_file}: {exc}") from None
        if cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
                != key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise SigningError(f"{key_file} is not the key of the certificate {cert_file}")
        return cls(key, cert.public_bytes(serialization.Encoding.DER))

    @classmethod
    def own(cls, data_dir: Path) -> NodeKey:
        """The node's own signing key in ``data_dir`` (made on first use)."""
        path = Path(data_dir) / OWN_KEY
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
        try:
            return cls(serialization.load_pem_private_key(path.read_bytes(), None), None)
        except ValueError as exc:
            raise SigningError(f"{path}: not a signing key ({exc})") from None

    @classmethod
    def for_node(cls, data_dir: Path, cert_file: Path | None, key_file: Path | None,
                 warn: Callable[[str], None] = log.warning) -> NodeKey:
        if cert_file is not None and key_file is not None:
            return cls.from_files(cert_file, key_file)
        warn(f"no node certificate: records are signed with the node's own key "
             f"({Path(data_dir) / OWN_KEY}), which verification reports as unsigned by the CA")
        return cls.own(data_dir)


class Sealer:
    """Gives each alert or evidence message its place in the chain and its signature."""

    def __init__(self, key: NodeKey, head: ChainHead | None) -> None:
        self.key = key
        self.head = head

    def seal(self, msg: contract.Message) -> tuple[contract.Message, ChainHead]:
        """``msg`` with ``chain`` and ``sig``; the chain's new head (saved with the record)."""
        head = self.head
        link = contract.ChainLink(id=head.chain_id if head else secrets.token_hex(8),
                                  seq=head.seq + 1 if head else 1,
                                  prev=head.hash if head else None)
        linked = msg.model_copy(update={"chain": link, "sig": None})
        body = signatures.body_of_payload(contract.encode(linked))
        sealed = linked.model_copy(update={"sig": self.key.sign(body)})
        self.head = ChainHead(link.id, link.seq, signatures.record_hash(body))
        return sealed, self.head
