"""What may be done with the building's CA key, and nothing more: a node's certificate for a
registered node id, and the revocation of every certificate issued to a node.

``Signer`` holds the CA. The ``kuzet provision`` commands use it in their own process; on the
hub it runs in its own service (``provisioning.signer_service``, user ``kuzet-signer``), so
that the web process never reads ``ca.key``. Its callers name a node id, never a common name,
a key usage or a serial: the certificate is always a client certificate with CN
``node.<building>.<room>.<name>``, and a revocation revokes only serials this signer issued
to that node (recorded in ``issued.json`` beside the CA).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

from provisioning.ca import CaError, CertificateAuthority, Issued
from provisioning.registry import DeviceRegistry, RegistryError

ISSUED_FILE = "issued.json"


class SignerError(CaError):
    pass


class NodeSigner(Protocol):
    """What provisioning asks of whoever holds the CA key (in process or over the socket)."""

    def issue(self, node_id: str) -> Issued: ...

    def revoke(self, node_id: str) -> None: ...

    @property
    def ca_pem(self) -> bytes: ...


class Signer:
    def __init__(self, ca: CertificateAuthority, registry: DeviceRegistry) -> None:
        self.ca = ca
        self.registry = registry
        self._issued_path = ca.folder / ISSUED_FILE
        if not self._issued_path.exists():
            # First start: what the registry says was issued before there was a signer.
            self._save({d.node_id: [d.serial] for d in registry.all() if d.serial})

    @property
    def ca_pem(self) -> bytes:
        return self.ca.ca_pem

    def issue(self, node_id: str) -> Issued:
        """A new certificate for a registered node that is not revoked; the node's earlier
        certificates are revoked first (a re-enrolment)."""
        device = self._registered(node_id)
        if device.status == "revoked":
            raise SignerError(f"node {node_id} is revoked: it gets no certificate")
        self._revoke_issued(node_id)
        issued = self.ca.issue(device.common_name)
        record = self._load()
        record[node_id] = [*record.get(node_id, []), str(issued.serial)]
        self._save(record)
        return issued

    def revoke(self, node_id: str) -> None:
        """Every certificate issued to the node goes on the CRL (safe to repeat)."""
        self._registered(node_id)
        self._revoke_issued(node_id)
        self.ca.write_crl()

    def _registered(self, node_id: str):
        try:
            return self.registry.get(node_id)
        except RegistryError as exc:
            raise SignerError(f"refused: {exc}") from None

    def _revoke_issued(self, node_id: str) -> None:
        for serial in self._load().get(node_id, []):
            if int(serial) not in self.ca.revoked():
                self.ca.revoke(int(serial))

    def _load(self) -> dict[str, list[str]]:
        try:
            return json.loads(self._issued_path.read_text())
        except FileNotFoundError:
            return {}

    def _save(self, record: dict[str, list[str]]) -> None:
        tmp = self._issued_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, self._issued_path)


def local_signer(folder: str | Path, registry: DeviceRegistry) -> Signer:
    return Signer(CertificateAuthority(folder), registry)
