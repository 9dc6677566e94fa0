"""The ingest worker: subscribes to the edge contract and hands every message to the writer.

* A persistent MQTT 5 session (the configured client id, ``clean_start=False``, a session
  expiry), so the broker queues QoS 1 messages while the hub restarts.
* Manual acknowledgement: a QoS 1 message is acknowledged (PUBACK) only after the writer
  committed it, so a crash between receipt and commit loses nothing: the broker sends it
  again, and the writer's de-duplication by message id makes that harmless.
* Every payload is validated with ``contract.decode(payload, expected_topic=topic)``; an
  evidence file is decoded and checked against its size and sha256 here. An invalid message
  is logged with its topic and the reason, counted, and dropped (acknowledged).

No Flask here.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Collection

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.config import BrokerSection
from hub.signatures import RecordVerifier, SignedRecord
from hub.store.messages import BAD_SIGNATURE
from hub.writer import Writer
from kuzet import contract
from kuzet.signatures import SignatureError

log = logging.getLogger(__name__)


class IngestWorker:
    """``start()``, ``stop()``; ``connected`` is set while the broker session is up."""

    def __init__(self, settings: BrokerSection, writer: Writer, *,
                 campus: Collection[str] | None = None) -> None:
        """``campus``: the campus hub's ingest, of these buildings (``campus_checked``: their
        bridged alerts and statuses only)."""
        self.settings = settings
        self.writer = writer
        self.campus = campus
        self.spoofed = 0                              # campus: another building's message
        self.connected = threading.Event()
        self.evidence_elsewhere = threading.Event()   # see hand_over_evidence
        self.received = 0
        self.invalid = 0
        self.bad_signatures = 0                       # counted in ``invalid`` too
        self.verifier = RecordVerifier.from_ca_file(settings.ca_file)
        self.last_error = ""
        c = ingest_client(settings, settings.client_id, settings.cert_file, settings.key_file)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c

    def start(self) -> None:
        connect_session(self.client, self.settings)
        self.client.loop_start()

    def hand_over_evidence(self) -> None:
        """The evidence process has its subscription: stop taking evidence here. Both take it
        until then (a copy is a duplicate by id, harmless), so none falls in between."""
        self.evidence_elsewhere.set()
        if self.connected.is_set():
            self._subscribe_without_evidence()

    def _subscribe_without_evidence(self) -> None:
        self.client.subscribe([(f"{contract.TOPIC_ROOT}/+/+/+/{kind}", 1)
                               for kind in contract.TOPIC_KINDS if kind != "evidence"])
        self.client.unsubscribe(self.settings.topic)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Send a command to a node (QoS 1, not retained); False if not connected now."""
        if not self.connected.is_set():
            return False
        return self.client.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho callbacks (paho's network thread) -----------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            log.warning(self.last_error)
            return
        log.info("ingest connected to %s:%s (session present: %s)", self.settings.host,
                 self.settings.port, flags.session_present)
        if self.evidence_elsewhere.is_set():
            self._subscribe_without_evidence()
        else:
            client.subscribe(self.settings.topic, qos=1)
        self.last_error = ""
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            self.last_error = f"disconnected from broker: {reason_code}"
            log.warning(self.last_error)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        ack = _acker(client, msg)
        try:
            if self.campus is not None:
                decoded, raw, record = campus_checked(msg, self.campus), None, None
            else:
                decoded, raw, record = checked(msg, self.settings, self.verifier)
        except ValueError as exc:                  # ContractError and SignatureError are
            self.invalid += 1
            if isinstance(exc, SignatureError):
                self.bad_signatures += 1
            if isinstance(exc, OtherBuilding):
                self.spoofed += 1
            reason = refusal(exc)
            log.warning("invalid message on %s: %s", msg.topic, reason)
            self.writer.submit_reject(msg.topic, reason, ack)
            return
        self.writer.submit_message(msg.topic, decoded, raw, ack, record=record)


def checked(msg: mqtt.MQTTMessage, settings: BrokerSection, verifier: RecordVerifier
            ) -> tuple[contract.Message, bytes | None, SignedRecord | None]:
    """The message validated against the contract and its topic, an evidence file's bytes
    checked against its kind's cap, its size and sha256, and a signed record's signature
    (None: unsigned); ValueError (ContractError, SignatureError) says what is wrong."""
    decoded = contract.decode(msg.payload, expected_topic=msg.topic)
    raw = None
    if isinstance(decoded, contract.EvidenceMessage):
        refuse_oversize(decoded, settings)
        raw = decoded.decoded()
    return decoded, raw, verifier.check(decoded, msg.payload)


class OtherBuilding(contract.ContractError):
    """On the campus broker: a message whose origin is another building than its topic's
    (a building's bridge may publish only under its own ``campus/v1/<building>/``)."""


def campus_checked(msg: mqtt.MQTTMessage, buildings: Collection[str]) -> contract.Message:
    """A bridged message on the campus broker, validated: ``campus/v1/<building>/<room>/
    <node>/<kind>`` of a kind that crosses (alert, status) and a building of the campus
    (``buildings``), its origin's building the topic's (else ``OtherBuilding``), its type
    and room and node the topic's. Signatures are the building hub's to check (it keeps the
    chain); the campus stores no signed record."""
    origin, kind = contract.parse_campus_topic(msg.topic)
    if origin.building not in buildings:
        raise contract.ContractError(f"topic {msg.topic!r}: building {origin.building!r} is "
                                     "not one of the campus's (campus.buildings)")
    decoded = contract.decode(msg.payload)
    o = getattr(decoded, "origin", None)
    if o is not None and o.building != origin.building:
        raise OtherBuilding(f"a message of building {o.building!r} on building "
                            f"{origin.building!r}'s campus topic")
    contract.check_topic(decoded, contract.topic(origin, kind))
    return decoded


def refusal(exc: ValueError) -> str:
    """The reason a message ``checked`` refused is stored with; a bad signature's begins with
    ``BAD_SIGNATURE``, which the store counts apart."""
    if isinstance(exc, SignatureError):
        return f"{BAD_SIGNATURE}: {exc}"
    return str(exc)


def refuse_oversize(m: contract.EvidenceMessage, settings: BrokerSection) -> None:
    """ValueError if the file is bigger than the hub takes of its kind. Its declared size is
    enough: ``decoded()`` checks the bytes against it before anything is written."""
    cap = settings.evidence_cap(m.kind)
    if m.size > cap:
        raise ValueError(f"evidence {m.evidence_id}: a {m.kind} of {m.size} bytes exceeds "
                         f"the hub's cap of {cap}")


def ingest_client(settings: BrokerSection, client_id: str, cert_file, key_file) -> mqtt.Client:
    """A paho MQTT 5 client (paho as it is, decision 50) for a persistent ingest session,
    acknowledging by hand."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
            manual_ack=True)
    if settings.username:
        c.username_pw_set(settings.username, settings.secret())
    if settings.ca_file:
        c.tls_set(ca_certs=str(settings.ca_file),
                  certfile=str(cert_file) if cert_file else None,
                  keyfile=str(key_file) if key_file else None,
                  tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.reconnect_delay_set(min_delay=1, max_delay=15)
    c.max_inflight_messages_set(100)
    return c


def connect_session(client: mqtt.Client, s: BrokerSection) -> None:
    """Connect (in the background) to the session kept while the hub is away."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = s.session_expiry_s
    props.ReceiveMaximum = s.receive_maximum
    client.connect_async(s.host, s.port, keepalive=s.keepalive, clean_start=False,
                         properties=props)


def _acker(client: mqtt.Client, msg: mqtt.MQTTMessage):
    if msg.qos == 0:
        return None
    mid, qos = msg.mid, msg.qos
    return lambda: client.ack(mid, qos)
