"""A real MQTT subscriber that records what it receives, for tests."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class Recorder:
    """Subscribes to ``topic``. With ``client_id`` the session is persistent (the broker keeps
    QoS 1 messages for it while it is away, across broker restarts if the broker persists)."""

    def __init__(self, host: str, port: int, topic: str = "kuzet/#",
                 client_id: str | None = None, tls: dict | None = None,
                 protocol: int = mqtt.MQTTv5) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        v5 = protocol == mqtt.MQTTv5          # MQTTv311 for brokers without 5.0 (RabbitMQ 3.10)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  protocol=protocol,
                                  **({} if v5 else {"clean_session": not client_id}))
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.reconnect_delay_set(0.2, 1)
        if tls:                   # ca_certs, certfile, keyfile (a broker with certificates)
            self.client.tls_set(**tls)
        if not v5:
            self.client.connect(host, port)
        else:
            props = None
            if client_id:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = 3600
            self.client.connect(host, port, clean_start=not client_id, properties=props)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.messages.append((msg.topic, msg.payload, msg.retain))
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def on(self, suffix: str) -> list[bytes]:
        with self._cond:
            return [p for t, p, _ in self.messages if t.endswith("/" + suffix)]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
