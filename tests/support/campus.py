"""A building and a campus, each its own real mosquitto configured by the provisioning code
(``kuzet provision init`` for the building, ``campus-init``/``campus-add``/``bridge`` for the
federation), the building's bridge reaching the campus through a ``Link`` that a test can
cut, and TLS clients with the nodes' and the campus hub's certificates."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kuzet import contract
from kuzet_tools.bench.sim import alert_for
from kuzet_tools.broker import MosquittoBroker, free_port
from provisioning.campus import CampusPki, install_bridge
from provisioning.service import Provisioner, install_bundle
from tests.support.link import Link
from tests.support.subscriber import Recorder


def persistent(workdir: Path) -> str:
    return f"persistence true\npersistence_location {workdir}/\nautosave_interval 60\n"


class TlsClient:
    """A paho client with a certificate (a node on the building's broker, a building's
    bridge certificate on the campus broker). Reconnects by itself after a broker restart."""

    def __init__(self, port: int, tls: dict, protocol=mqtt.MQTTv5) -> None:
        self.connected = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
        self.c.tls_set(**tls, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.max_inflight_messages_set(100)
        self.c.reconnect_delay_set(0.2, 1)
        self.c.on_connect = lambda c, u, f, rc, p=None: (
            self.connected.set() if not rc.is_failure else None)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError(f"no TLS connection to 127.0.0.1:{port}")

    def publish(self, topic: str, payload: bytes, retain: bool = False,
                timeout: float = 10.0) -> mqtt.MQTTMessageInfo:
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout)
        return info

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@dataclass
class Node:
    origin: contract.Origin
    client: TlsClient
    sent: list[str] = field(default_factory=list)        # alert ids, in publication order
    sent_at: dict[str, float] = field(default_factory=dict)

    def alert(self) -> str:
        msg = alert_for(self.origin, "r1c1")
        self.client.publish(contract.topic(self.origin, "alert"), contract.encode(msg))
        self.sent.append(msg.id)
        self.sent_at[msg.id] = time.monotonic()
        return msg.id

    def status(self, state: str = "online") -> None:
        msg = contract.StatusMessage(origin=self.origin, state=state, since=contract.utcnow())
        self.client.publish(contract.topic(self.origin, "status"), contract.encode(msg),
                            retain=True)


class Federation:
    """``building`` (broker, provisioner, nodes) and ``campus`` (broker, PKI); ``link`` carries
    the bridge. ``protocol`` is the bridge's MQTT version."""

    def __init__(self, root: Path, building_name: str = "main",
                 protocol: str = "mqttv311", campus_conf_extra: str = "",
                 campus_broker: str = "mosquitto") -> None:
        self.root = root
        self.name = building_name
        self.campus_pki = CampusPki.init(root / "campus-pki",
                                         broker_names=["localhost", "127.0.0.1"])
        bundle = self.campus_pki.add_building(building_name)    # before the ACL is read
        if campus_broker == "rabbitmq":
            from tests.support.rabbit import RabbitBroker

            self.campus = RabbitBroker(root / "rabbit", self.campus_pki.folder,
                                       [building_name])
            self.campus.start()
            campus_port = self.campus.port
        else:
            campus_port = free_port()
            conf = (self.campus_pki.folder / "mosquitto.conf").read_text().replace(
                "listener 8883", f"listener {campus_port} 127.0.0.1")
            self.campus = MosquittoBroker(root / "campus-mq", port=campus_port,
                                          conf_text=persistent(root / "campus-mq") + conf
                                          + campus_conf_extra)
            self.campus.start()
        self.link = Link("127.0.0.1", campus_port)
        port = free_port()
        pki = root / "pki"
        self.prov = Provisioner.init(pki, broker_names=["localhost", "127.0.0.1"],
                                     broker_port=port)
        self.bridge_conf = install_bridge(bundle.data, pki, building=building_name,
                                          campus_host="127.0.0.1", campus_port=self.link.port,
                                          protocol=protocol)
        building_conf = (pki / "mosquitto.conf").read_text().replace(
            f"listener {port}", f"listener {port} 127.0.0.1")
        self.building = MosquittoBroker(
            root / "building-mq", port=port,
            conf_text=persistent(root / "building-mq") + building_conf + "\n"
            + self.bridge_conf.read_text())
        self.building.start()
        self.prov.reload_broker = self.building.reload
        self.nodes: list[Node] = []
        self._closers: list = []

    def node(self, room: str, name: str = "cam1") -> Node:
        node_id = f"{self.name}/{room}/{name}"
        self.prov.add_node(node_id)
        dest = self.root / node_id.replace("/", "-")
        install_bundle(self.prov.enrol(node_id, hub_host="127.0.0.1").data, dest)
        client = TlsClient(self.building.port, {"ca_certs": str(dest / "ca.crt"),
                                                "certfile": str(dest / "node.crt"),
                                                "keyfile": str(dest / "node.key")})
        node = Node(contract.Origin(building=self.name, room=room, node=name), client)
        self.nodes.append(node)
        self._closers.append(client.close)
        return node

    def campus_hub(self) -> TimedRecorder:
        """The campus hub's persistent session (client id = its certificate's CN)."""
        rec = TimedRecorder("127.0.0.1", self.campus.port, topic="campus/v1/#",
                            client_id="campus-hub", tls=self.campus_pki.campus_hub_tls(),
                            protocol=getattr(self.campus, "mqtt_protocol", mqtt.MQTTv5))
        self._closers.append(rec.close)
        return rec

    def building_hub(self) -> TimedRecorder:
        rec = TimedRecorder("127.0.0.1", self.building.port, topic="kuzet/v1/#",
                            client_id="hub", tls=self.prov.hub_tls())
        self._closers.append(rec.close)
        return rec

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:
                pass
        self.building.stop()
        self.link.close()
        getattr(self.campus, "close", self.campus.stop)()


class TimedRecorder(Recorder):
    """A ``Recorder`` that also notes when each message arrived (``time.monotonic()``)."""

    def __init__(self, *a, **kw) -> None:
        self.arrived: list[float] = []
        super().__init__(*a, **kw)

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.arrived.append(time.monotonic())
        super()._on_message(client, userdata, msg)

    def alerts(self) -> list[tuple[str, str, float]]:
        """(topic, alert id, arrival) of every alert received, repeats included."""
        import json

        with self._cond:
            pairs = list(zip(self.messages, self.arrived, strict=False))
        return [(t, json.loads(p)["id"], at) for (t, p, _), at in pairs
                if t.endswith("/alert")]


class Traffic:
    """Every node publishes an alert each ``interval_s`` on its own thread until ``stop()``
    (as an exam's nodes would, whatever happens to the campus link)."""

    def __init__(self, nodes: list[Node], interval_s: float) -> None:
        self._stop = threading.Event()
        self.errors: list[str] = []
        self._threads = [threading.Thread(target=self._run, args=(n, interval_s), daemon=True)
                         for n in nodes]
        for t in self._threads:
            t.start()

    def _run(self, node: Node, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                node.alert()
            except Exception as exc:       # noted, and the test fails on it
                self.errors.append(repr(exc))
            self._stop.wait(interval_s)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)


@dataclass
class Delivery:
    """What a subscriber got of the nodes' alerts: each node's ids in order of first arrival,
    the raw repeats, the ids missing, and when the last one arrived."""

    order: dict[str, list[str]]
    duplicates: int
    missing: list[str]
    last_arrival: float | None
    delays: list[float]          # arrival minus publication, first arrivals

    @classmethod
    def of(cls, rec: TimedRecorder, nodes: list[Node]) -> Delivery:
        sent = {i: n for n in nodes for i in n.sent}
        first: dict[str, float] = {}
        order: dict[str, list[str]] = {f"{n.origin.room}/{n.origin.node}": [] for n in nodes}
        dupes = 0
        for topic, alert_id, at in rec.alerts():
            if alert_id in first:
                dupes += 1
                continue
            first[alert_id] = at
            room, node = topic.split("/")[3:5]
            order.setdefault(f"{room}/{node}", []).append(alert_id)
        delays = [first[i] - sent[i].sent_at[i] for i in first if i in sent]
        return cls(order, dupes, [i for i in sent if i not in first],
                   max(first.values(), default=None), delays)

    def in_order(self, nodes: list[Node]) -> bool:
        return all(self.order[f"{n.origin.room}/{n.origin.node}"] == n.sent for n in nodes)
