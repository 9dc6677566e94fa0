"""The hub's side of provisioning: the technician's pages drive ``provisioning.service`` here.

* **One MQTT identity.** The broker makes the certificate's CN the client id
  (``use_username_as_clientid``), so a second connection with the hub's certificate would
  take over the ingest worker's persistent session. Live broker changes (dynsec) and
  commands to nodes therefore go through the ingest worker's own client; only a hub running
  without ingest opens its own admin connection (``Provisioner.admin``).
* **No CA key here.** With ``[provisioning] signer_socket`` the certificates are issued and
  revoked by the signer service (``provisioning.signer_service``), which alone reads
  ``ca.key``; this process asks it for "a certificate for registered node X" and nothing else.
* **Enrolment** issues the certificate (``Provisioner.enrol(live=False)``), then allows the
  node on the broker; a re-enrolment first deletes the node's broker client, which drops a
  connection still using the old (now revoked) certificate.
* **Commands** (snapshot, reload_seatmap) are published on ``…/<node>/cmd``; the nodes'
  replies are noted here and then handed to the ingest worker as before. Snapshots this hub
  asked for are remembered (in memory) so that only they are shown to technicians.

No Flask here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from hub.config import HubConfig
from hub.services import HubServices
from hub.store import nodes
from kuzet import contract
from kuzet.errors import KuzetError
from provisioning.broker import DynsecAdmin
from provisioning.registry import Device
from provisioning.service import Bundle, Provisioner, Revocation, command_reload
from provisioning.signer_service import SignerClient

log = logging.getLogger(__name__)
REPLY_TOPIC = f"{contract.TOPIC_ROOT}/+/+/+/reply"
KEEP_COMMANDS = 500


class _IngestDynsec(DynsecAdmin):
    """DynsecAdmin on the ingest client, whose messages are acknowledged by hand."""

    def _on_response(self, client, userdata, msg) -> None:
        try:
            super()._on_response(client, userdata, msg)
        finally:
            if msg.qos:
                client.ack(msg.mid, msg.qos)


@dataclass
class SentCommand:
    command_id: str
    node_id: str
    action: str
    sent_at: float
    ok: bool | None = None            # None until the node replies
    detail: str = ""


class ProvisioningBridge:
    """Registry, enrolment, revocation and node commands for the hub's web app."""

    def __init__(self, config: HubConfig, services: HubServices) -> None:
        self.settings = config.provisioning
        self.services = services
        signer = (SignerClient(self.settings.signer_socket)
                  if self.settings.signer_socket is not None else None)
        self.prov = Provisioner(self.settings.pki_dir, broker_host=config.broker.host,
                                broker_port=self.settings.node_broker_port,
                                reload_broker=command_reload(self.settings.reload_command),
                                signer=signer, registry=self.settings.registry_path)
        self._lock = threading.RLock()         # one registry / broker change at a time
        self._sent: dict[str, SentCommand] = {}
        self._room_snapshot: dict[tuple[str, str], str] = {}
        self._forward: Callable[..., Any] | None = None
        ingest = services.ingest
        if ingest is not None:
            self._forward = ingest.client.on_message
            ingest.client.message_callback_add(REPLY_TOPIC, self._on_reply)

    # -- the registry -----------------------------------------------------------------------
    def devices(self) -> list[Device]:
        with self._lock:
            return self.prov.registry.all()

    def device(self, node_id: str) -> Device:
        with self._lock:
            return self.prov.registry.get(node_id)

    def add(self, node_id: str) -> Device:
        with self._lock:
            return self.prov.add_node(node_id)

    def enrol(self, node_id: str) -> Bundle:
        """A new certificate and its one-time bundle; the node is allowed on the broker."""
        with self._lock:
            before = self.prov.registry.get(node_id)
            if before.status == "revoked":
                raise KuzetError(f"node {node_id} is revoked: add it again under a new name")
            bundle = self.prov.enrol(node_id, hub_host=self.settings.node_broker_host,
                                     live=False)
            device = bundle.device

            def allow(admin: DynsecAdmin) -> None:
                if before.status == "enrolled":
                    admin.remove_node(device)      # drops the old certificate's connection
                admin.add_node(device)

            self._dynsec(allow)
            return bundle

    def ca_pem(self) -> bytes:
        """The building's CA certificate (public; from the signer when there is one)."""
        return self.prov.signer.ca_pem

    def ca_fingerprint(self) -> str:
        """SHA-256 of the CA certificate, as ``openssl x509 -fingerprint -sha256`` shows it."""
        cert = x509.load_pem_x509_certificate(self.ca_pem())
        return cert.fingerprint(hashes.SHA256()).hex(":").upper()

    def new_code(self, node_id: str) -> str:
        with self._lock:
            device = self.prov.registry.get(node_id)
            if device.status == "revoked":
                raise KuzetError(f"node {node_id} is revoked")
            return self.prov.registry.new_code(node_id, ttl_s=self.settings.code_ttl_s)

    def redeem(self, code: str) -> Bundle:
        """The bundle for a one-time code (the code is spent whatever happens)."""
        with self._lock:
            device = self.prov.registry.redeem_code(code)
            return self.enrol(device.node_id)

    def revoke(self, node_id: str) -> Revocation:
        """Registry, CRL, the node's broker client deleted (cut off at once), then the broker
        reload (retried); safe to repeat: a second revoke completes a half-done one."""
        with self._lock:
            return self.prov.revoke(node_id, cut_off=lambda device: self._dynsec(
                lambda admin: admin.remove_node(device)))

    def _dynsec(self, fn: Callable[[DynsecAdmin], None]) -> None:
        ingest = self.services.ingest
        if ingest is None:
            with self.prov.admin() as admin:
                fn(admin)
            return
        if not ingest.connected.is_set():
            raise KuzetError("the hub is not connected to the broker; try again when it is")
        fn(_IngestDynsec(ingest.client))

    # -- commands to nodes -------------------------------------------------------------------
    def send(self, node_id: str, action: contract.Action,
             seatmap: dict[str, Any] | None = None) -> SentCommand:
        ingest = self.services.ingest
        if ingest is None or not ingest.connected.is_set():
            raise KuzetError("the hub is not connected to the broker")
        device = self.device(node_id)
        if device.status != "enrolled":
            raise KuzetError(f"node {node_id} is not enrolled")
        origin = contract.Origin(building=device.building, room=device.room, node=device.name)
        msg = contract.CommandMessage(action=action, seatmap=seatmap)
        if action == contract.Action.SNAPSHOT:    # its evidence may come from that node only
            self.services.writer.call(nodes.record_snapshot_command, msg, origin)
        info = ingest.client.publish(contract.topic(origin, "cmd"), contract.encode(msg),
                                     qos=1)
        if info.rc != 0:
            raise KuzetError(f"could not send the command (paho rc {info.rc})")
        sent = SentCommand(msg.id, node_id, action.value, time.time())
        with self._lock:
            self._sent[msg.id] = sent
            if action == contract.Action.SNAPSHOT:
                self._room_snapshot[(device.building, device.room)] = msg.id
            while len(self._sent) > KEEP_COMMANDS:
                self._sent.pop(next(iter(self._sent)))
        return sent

    def sent(self, command_id: str) -> SentCommand | None:
        with self._lock:
            return self._sent.get(command_id)

    def room_snapshot(self, building: str, room: str) -> str | None:
        """The command id of the room's latest snapshot asked for by this hub."""
        with self._lock:
            return self._room_snapshot.get((building, room))

    def _on_reply(self, client, userdata, msg) -> None:
        try:
            reply = contract.decode(msg.payload, expected_topic=msg.topic)
            if isinstance(reply, contract.CommandReply):
                with self._lock:
                    sent = self._sent.get(reply.command_id)
                    if sent is not None:
                        sent.ok, sent.detail = reply.ok, reply.detail
        except (contract.ContractError, ValueError):
            pass                                  # the ingest worker logs and counts it
        finally:
            if self._forward is not None:
                self._forward(client, userdata, msg)
