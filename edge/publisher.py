"""MQTT for the node: sends the outbox in order, keeps the retained status, takes commands.

paho-mqtt (MQTT 5) runs its network loop in its own thread; a pump thread sends outbox rows
while connected and deletes each one on its PUBACK. On every (re)connect the pump starts again
from the oldest row, so nothing written to the outbox is lost across outages or restarts.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.outbox import Outbox, OutboxItem
from kuzet import contract

log = logging.getLogger(__name__)


def default_client_id(origin: contract.Origin) -> str:
    """The MQTT client id of a node whose config names none: unique in the building's broker
    (two rooms' ``cam1`` would otherwise take each other's session; with certificates the
    broker uses the certificate's name instead, ``use_username_as_clientid``)."""
    return f"kuzet-{origin.building}-{origin.room}-{origin.node}"


@dataclass(frozen=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive: int = 30
    inflight: int = 20


class MqttPublisher:
    """``start()``, ``stop()``, ``set_status(msg)``, ``send_now(topic, payload)``; commands are
    handed to ``on_command(CommandMessage)``. No clock decides anything here (paho's keepalive
    and reconnect back-off run on the monotonic clock); ``wall_clock`` only stamps the last
    will."""

    def __init__(self, settings: BrokerSettings, origin: contract.Origin, outbox: Outbox,
                 on_command: Callable[[contract.CommandMessage], None] | None = None,
                 offline_status: contract.StatusMessage | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._wall = wall_clock
        self.origin = origin
        self.outbox = outbox
        self.on_command = on_command
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}   # paho mid -> outbox seq
        self._early: dict[int, object] = {}   # mid -> reason code of a PUBACK seen too early
        self._undeleted: set[int] = set()     # acknowledged, but the delete failed (disk full)
        self.on_disk_full: Callable[[], None] | None = None
        self._cursor = 0                      # highest seq sent on this connection
        self._generation = 0                  # bumps on every (re)connect
        self._status: contract.StatusMessage | None = None
        self.connected = threading.Event()
        self.sent = 0
        self.acked = 0
        self.last_error = ""
        self.client = self._make_client(offline_status)
        self._pump = threading.Thread(target=self._pump_loop, name="mqtt-outbox", daemon=True)

    # -- set-up ------------------------------------------------------------------------------
    def _make_client(self, offline: contract.StatusMessage | None) -> mqtt.Client:
        s = self.settings
        c = mqtt.Client(CallbackAPIVersion.VERSION2,
                        client_id=s.client_id or default_client_id(self.origin),
                        protocol=mqtt.MQTTv5)
        c.max_inflight_messages_set(s.inflight)
        if s.username:
            c.username_pw_set(s.username, s.password)
        if s.ca_file:
            c.tls_set(ca_certs=s.ca_file, certfile=s.cert_file, keyfile=s.key_file,
                      tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if offline is None:
            now = datetime.fromtimestamp(self._wall(), UTC)
            offline = contract.StatusMessage(origin=self.origin, state="offline", since=now,
                                             sent_at=now)
        will_props = Properties(PacketTypes.WILLMESSAGE)
        will_props.WillDelayInterval = 0
        c.will_set(contract.topic(self.origin, "status"), contract.encode(offline), qos=1,
                   retain=True, properties=will_props)
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        return c

    def start(self) -> None:
        s = self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        self.client.connect_async(s.host, s.port, keepalive=s.keepalive, clean_start=True,
                                  properties=props)
        self.client.loop_start()
        self._pump.start()

    def stop(self, final_status: contract.StatusMessage | None = None) -> None:
        """Publish a last status (e.g. offline, cleanly), then disconnect."""
        if final_status is not None and self.connected.is_set():
            info = self.client.publish(contract.topic(self.origin, "status"),
                                       contract.encode(final_status), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        if self._pump.is_alive():
            self._pump.join(timeout=5)

    # -- paho callbacks (paho's network thread) -----------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            log.warning(self.last_error)
            return
        log.info("connected to %s:%s", self.settings.host, self.settings.port)
        client.subscribe(contract.topic(self.origin, "cmd"), qos=1)
        with self._lock:
            self._inflight.clear()
            self._early.clear()
            self._cursor = 0          # replay everything not yet acknowledged, in order
            self._generation += 1
            status = self._status
        if status is not None:
            client.publish(contract.topic(self.origin, "status"), contract.encode(status),
                           qos=1, retain=True)
        self.last_error = ""
        self.connected.set()
        self.outbox.notify()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            self.last_error = f"disconnected from broker: {reason_code}"
            log.warning(self.last_error)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:           # acknowledged before the pump recorded the mid
                self._early[mid] = reason_code
                while len(self._early) > 512:   # also status/heartbeat mids: keep it bounded
                    self._early.pop(next(iter(self._early)))
                return
        self._settle(seq, reason_code)

    def _settle(self, seq: int, reason_code) -> None:
        if reason_code.is_failure:
            log.error("broker rejected outbox message %s: %s", seq, reason_code)
            return                       # kept; retried on the next connection
        try:
            self.outbox.ack(seq)
        except sqlite3.Error as exc:      # disk full: the delete itself needs space
            log.warning("could not delete acknowledged message %s: %s", seq, exc)
            with self._lock:
                self._undeleted.add(seq)
            if self.on_disk_full is not None:
                self.on_disk_full()
            return
        self.acked += 1
        self.outbox.notify()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            cmd = contract.decode(msg.payload, expected_topic=msg.topic)
        except contract.ContractError as exc:
            log.warning("ignored command on %s: %s", msg.topic, exc)
            self._refuse(msg.payload, str(exc))
            return
        if self.on_command is not None:
            try:
                self.on_command(cmd)
            except Exception:  # a bad command must not kill paho's thread
                log.exception("command %s failed", getattr(cmd, "id", "?"))

    def _refuse(self, payload: bytes, reason: str) -> None:
        """A command that names itself (a JSON object with a command ``id``) but does not
        validate (a malformed seat map, say) is answered with a failed reply, so the hub
        learns why; anything else is only logged."""
        command_id = contract.command_id_of(payload)
        if command_id is None:
            return
        self.send_now("reply", contract.CommandReply(
            origin=self.origin, command_id=command_id, ok=False, detail=reason[:2000],
            sent_at=datetime.fromtimestamp(self._wall(), UTC)))

    # -- the pump ---------------------------------------------------------------------------
    def _retry_deletes(self) -> None:
        with self._lock:
            seqs = sorted(self._undeleted)
        for seq in seqs:
            try:
                self.outbox.ack(seq)
            except sqlite3.Error:
                return
            with self._lock:
                self._undeleted.discard(seq)
            self.acked += 1

    def _pump_loop(self) -> None:
        while not self._stop.is_set():
            if self._undeleted:
                self._retry_deletes()
            if not self.connected.wait(timeout=0.5):
                continue
            with self._lock:
                room = self.settings.inflight - len(self._inflight)
                cursor, generation = self._cursor, self._generation
            if room <= 0:
                self.outbox.wait(timeout=0.5)   # woken by the next PUBACK
                continue
            items = self.outbox.pending(after=cursor, limit=room)
            if not items:
                self.outbox.wait_for_new(after=cursor, timeout=0.5)
                continue
            for item in items:
                if generation != self._generation or not self.connected.is_set():
                    break                 # reconnected meanwhile: start over from the oldest
                # Never hold our lock while calling paho: its network thread holds paho's
                # lock while it calls _on_publish, which takes ours.
                payload = self._render(item)
                if payload is None:
                    self._settle_missing(item)
                    continue
                info = self.client.publish(item.topic, payload, qos=item.qos)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                with self._lock:
                    if generation != self._generation:
                        break
                    early = self._early.pop(info.mid, None)
                    if early is None:
                        self._inflight[info.mid] = item.seq
                    self._cursor = item.seq
                    self.sent += 1
                if early is not None:
                    self._settle(item.seq, early)

    def _render(self, item: OutboxItem) -> bytes | None:
        """The payload to send: with an attachment, its file's bytes go into ``data``."""
        if item.attachment is None:
            return item.payload
        try:
            raw = Path(item.attachment).read_bytes()
        except OSError as exc:
            log.error("outbox message %s: attachment %s unreadable: %s", item.seq,
                      item.attachment, exc)
            return None
        msg = json.loads(item.payload)
        msg["data"] = base64.b64encode(raw).decode()
        return json.dumps(msg, separators=(",", ":")).encode()

    def _settle_missing(self, item: OutboxItem) -> None:
        """An evidence file that is gone cannot be sent: drop it rather than block the queue
        (the hub sees the alert's evidence reference without its file)."""
        try:
            self.outbox.ack(item.seq)
        except sqlite3.Error:
            with self._lock:
                self._undeleted.add(item.seq)
        with self._lock:
            self._cursor = max(self._cursor, item.seq)

    # -- direct (not queued) messages ---------------------------------------------------------
    def set_status(self, status: contract.StatusMessage) -> None:
        """Retained status: published now if connected, and again on every reconnect."""
        with self._lock:
            self._status = status
        if self.connected.is_set():
            self.client.publish(contract.topic(self.origin, "status"), contract.encode(status),
                                qos=1, retain=True)

    def send_now(self, kind: str, message) -> bool:
        """Fire-and-forget (heartbeats, replies): dropped when not connected."""
        if not self.connected.is_set():
            return False
        qos = 0 if kind == "heartbeat" else 1
        self.client.publish(contract.topic(self.origin, kind), contract.encode(message), qos=qos)
        return True
