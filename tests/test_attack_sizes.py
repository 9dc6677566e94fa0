"""Size limits, attacked as a node would: a publish bigger than the contract's largest message
is refused by the real mosquitto (the generated configs of both the test runner and
``kuzet provision``), and evidence above the hub's cap for its kind never reaches the disk.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.services import HubServices
from hub.store import messages
from hub.store.db import connect
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, alert_for
from provisioning.service import install_bundle
from tests.support.hub_env import make_config
from tests.support.pki import provisioned_broker
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration     # a real mosquitto in every test

OVERSIZE = contract.MAX_PAYLOAD_BYTES + 1
TOPIC = "kuzet/v1/main/a101/cam1/evidence"


class Peer:
    """A paho MQTT 5 client that records PUBACK reason codes, messages and disconnects."""

    def __init__(self, port: int, client_id: str, tls: tuple[str, str, str] | None = None):
        self.acks: dict[int, int] = {}
        self.got: list[tuple[str, int]] = []           # (topic, payload size)
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5)
        if tls:
            ca, cert, key = tls
            self.c.tls_set(ca_certs=ca, certfile=cert, keyfile=key,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.on_connect = lambda c, u, f, rc, p: rc.is_failure or self.connected.set()
        self.c.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc.value)
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, len(m.payload)))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.connected.wait(10), "could not connect"

    def publish(self, topic: str, payload: bytes) -> int:
        """The broker's PUBACK reason code (-1: none came)."""
        info = self.c.publish(topic, payload, qos=1)
        assert wait_until(lambda: info.mid in self.acks or self.disconnected.is_set(), 30)
        return self.acks.get(info.mid, -1)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _attack(port: int, sender_tls=None, reader_tls=None, topic: str = TOPIC) -> None:
    """An oversize publish is refused (mosquitto 2.0.11 answers it with PUBACK 0x95, which
    paho takes as a protocol error and disconnects) and never reaches a subscriber; a packet
    above ``max_packet_size`` disconnects its sender; the broker goes on passing the rest."""
    reader = Peer(port, "hub" if reader_tls else "reader", reader_tls)
    reader.c.subscribe("kuzet/v1/#", qos=1)
    time.sleep(0.3)
    sender_id = "main-a101-cam1" if sender_tls else "sender"
    try:
        for size in (OVERSIZE, OVERSIZE + 256 * 1024):
            sender = Peer(port, sender_id, sender_tls)
            sender.c.publish(topic, b"x" * size, qos=1)
            assert wait_until(lambda s=sender: s.disconnected.is_set()
                              or any(code >= 0x80 for code in s.acks.values()), 30), \
                f"the broker took a message of {size} bytes"
            sender.close()
        sender = Peer(port, sender_id, sender_tls)
        assert sender.publish(topic, b"small") in (0, 16)
        sender.close()
        assert wait_until(lambda: reader.got, 10)
        time.sleep(0.5)
        assert reader.got == [(topic, 5)]                    # the big ones were not passed on
    finally:
        reader.close()


def test_the_test_brokers_config_refuses_an_oversize_publish(broker):
    _attack(broker.port)
    conf = (broker.workdir / "mosquitto.conf").read_text()
    assert "max_queued_bytes" in conf and "max_queued_messages" in conf


def test_the_provisioned_brokers_config_refuses_an_oversize_publish(tmp_path):
    with provisioned_broker(tmp_path) as (prov, broker, pki):
        prov.add_node("main/a101/cam1")
        dest = tmp_path / "cam1"
        install_bundle(prov.enrol("main/a101/cam1", hub_host="127.0.0.1").data, dest)
        node = (str(dest / "ca.crt"), str(dest / "node.crt"), str(dest / "node.key"))
        hub = (str(pki / "ca.crt"), str(pki / "hub.crt"), str(pki / "hub.key"))
        _attack(broker.port, node, hub)
        conf = (pki / "mosquitto.conf").read_text()
        assert "max_queued_bytes" in conf and "max_queued_messages" in conf


# -- the hub's cap per evidence kind ----------------------------------------------------------
CAPS = {"snapshot": 40_000, "crop": 20_000, "clip": 60_000, "check-in": 10_000}
TYPES = {"snapshot": "image/jpeg", "crop": "image/jpeg", "clip": "video/x-msvideo",
         "check-in": "image/jpeg"}
ORIGIN = contract.Origin(building="main", room="a101", node="cam1")


def _evidence(alert_id: str, kind: str, size: int) -> contract.EvidenceMessage:
    data = b"\xff\xd8\xff\xe0" + bytes(size - 4)
    return contract.EvidenceMessage(
        origin=ORIGIN, alert_id=alert_id, evidence_id=contract.new_id(), kind=kind,
        content_type=TYPES[kind], sha256=hashlib.sha256(data).hexdigest(), size=len(data),
        captured_at=contract.utcnow(), data=base64.b64encode(data).decode())


@pytest.mark.parametrize("evidence_process", [False, True], ids=["one-process", "evidence-process"])
def test_evidence_above_its_kinds_cap_is_refused_before_the_disk(tmp_path, broker,
                                                                  evidence_process):
    config = make_config(tmp_path, broker.port)
    config = config.model_copy(update={"broker": config.broker.model_copy(update={
        "evidence_process": evidence_process,
        **{f"max_{k.replace('-', '_')}_bytes": v for k, v in CAPS.items()}})})
    svc = HubServices(config).start(ingest=True)
    node = NodeSim(broker.host, broker.port, ORIGIN)
    try:
        assert svc.ingest.connected.wait(10)
        if evidence_process:
            assert wait_until(svc.ingest.evidence_elsewhere.is_set, 30), "no hand-over"
        alert = alert_for(ORIGIN, "r1s1")
        node.publish(alert)
        for kind, cap in CAPS.items():
            node.publish(_evidence(alert.alert_id, kind, cap + 1))
        fits = _evidence(alert.alert_id, "clip", CAPS["clip"])    # at the cap: taken
        node.publish(fits)
        assert wait_until(lambda: _rows(svc, "SELECT evidence_id FROM evidence"), 20)
        assert wait_until(lambda: len(_rows(svc, "SELECT * FROM rejected")) >= 4, 10)
        assert [r["evidence_id"] for r in _rows(svc, "SELECT evidence_id FROM evidence")] \
            == [fits.evidence_id]
        files = [p for p in svc.evidence.root.rglob("*") if p.is_file()]
        assert [p.name for p in files] == [f"{fits.evidence_id}.avi"]
        reasons = sorted(r["reason"] for r in _rows(svc, "SELECT reason FROM rejected"))
        assert len(reasons) == 4 and all("exceeds the hub's cap" in r for r in reasons)
        conn = connect(svc.db_path, readonly=True)
        assert messages.counters(conn)["rejected"] == 4
        conn.close()
    finally:
        node.close()
        svc.stop()


def _rows(svc, sql: str):
    conn = connect(svc.db_path, readonly=True)
    try:
        return [dict(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()
