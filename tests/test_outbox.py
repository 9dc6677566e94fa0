"""The durable outbox and its publisher, against a real mosquitto."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from edge.outbox import Outbox
from edge.publisher import BrokerSettings, MqttPublisher
from kuzet import contract
from tests.support.subscriber import Recorder

ORIGIN = contract.Origin(building="main", room="a101", node="cam1")


def _ids(payloads) -> list[str]:
    return [json.loads(p)["id"] for p in payloads]


def test_outbox_is_fifo_idempotent_and_survives_reopening(tmp_path):
    box = Outbox(tmp_path / "o.db")
    for i in range(5):
        box.add(f"id{i:08d}", "t", f"p{i}".encode())
    box.add("id00000001", "t", b"again")               # the same id twice: kept once
    assert [i.msg_id for i in box.pending()] == [f"id{i:08d}" for i in range(5)]
    box.ack(box.pending()[0].seq)
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert [i.payload for i in again.pending()] == [b"p1", b"p2", b"p3", b"p4"]
    assert again.depth() == 4


def _heartbeat(i: int) -> contract.CommandReply:
    return contract.CommandReply(origin=ORIGIN, command_id=f"cmd{i:08d}", ok=True, detail=str(i))


def test_every_message_arrives_across_a_broker_outage(tmp_path, broker):
    box = Outbox(tmp_path / "o.db")
    rec = Recorder(broker.host, broker.port)
    pub = MqttPublisher(BrokerSettings(host=broker.host, port=broker.port), ORIGIN, box)
    pub.start()
    sent = []
    try:
        assert pub.connected.wait(10)
        for i in range(50):
            m = _heartbeat(i)
            box.add(m.id, contract.topic(ORIGIN, "reply"), contract.encode(m))
            sent.append(m.id)
        assert rec.wait_for(lambda ms: len(ms) >= 50)
        broker.stop()
        rec.close()
        deadline = time.monotonic() + 10
        while pub.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pub.connected.is_set()              # the node knows the broker is gone
        for i in range(50, 120):                      # written while the broker is down
            m = _heartbeat(i)
            box.add(m.id, contract.topic(ORIGIN, "reply"), contract.encode(m))
            sent.append(m.id)
        assert box.depth() >= 70
        broker.start()
        rec = Recorder(broker.host, broker.port)
        deadline = time.monotonic() + 20
        while box.depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert box.depth() == 0
        assert rec.wait_for(lambda ms: len(ms) >= 70)
        got_before = set(sent[:50])
        got_after = set(_ids(rec.on("reply")))
        assert got_before | got_after == set(sent)     # every message, none lost
        assert set(sent[50:]) <= got_after
    finally:
        pub.stop()
        rec.close()


CRASHING_NODE = """
import sys, time
from edge.outbox import Outbox
from edge.publisher import BrokerSettings, MqttPublisher
from kuzet import contract
origin = contract.Origin(building="main", room="a101", node="cam1")
pub = MqttPublisher(BrokerSettings(host=sys.argv[1], port=int(sys.argv[2])), origin,
                    Outbox(sys.argv[3]))
pub.start()
assert pub.connected.wait(10)
pub.set_status(contract.StatusMessage(origin=origin, state="online", since=contract.utcnow()))
print("online", flush=True)
time.sleep(600)
"""


def test_the_retained_status_and_its_last_will(tmp_path, broker):
    node = subprocess.Popen([sys.executable, "-c", CRASHING_NODE, broker.host, str(broker.port),
                             str(tmp_path / "o.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert node.stdout.readline().strip() == "online"
        rec = Recorder(broker.host, broker.port)
        assert rec.wait_for(lambda ms: any(t.endswith("/status") for t, _, _ in ms))
        assert json.loads(rec.on("status")[-1])["state"] == "online"
        # A crash (no DISCONNECT): the broker publishes the retained last will.
        node.send_signal(signal.SIGKILL)
        node.wait(10)
    finally:
        node.kill()
        node.stdout.close()
    assert rec.wait_for(lambda ms: json.loads([p for t, p, _ in ms if t.endswith("/status")][-1])
                        ["state"] == "offline", timeout=60)
    rec.close()
    late = Recorder(broker.host, broker.port)          # a newcomer gets the retained state
    assert late.wait_for(lambda ms: any(t.endswith("/status") for t, _, _ in ms))
    assert json.loads(late.on("status")[-1])["state"] == "offline"
    late.close()


def test_two_rooms_nodes_of_the_same_name_keep_their_own_connections(tmp_path, broker):
    """Without certificates the client id is the node's whole origin: room a101's cam1 and
    room a102's cam1 do not take each other's session (the broker would drop the older)."""
    other = contract.Origin(building="main", room="a102", node="cam1")
    pubs = [MqttPublisher(BrokerSettings(host=broker.host, port=broker.port), origin,
                          Outbox(tmp_path / f"{origin.room}.db")) for origin in (ORIGIN, other)]
    for pub in pubs:
        pub.start()
    try:
        assert all(pub.connected.wait(10) for pub in pubs)
        time.sleep(1.5)                                # a clash shows as a dropped session
        assert all(pub.connected.is_set() for pub in pubs), [p.last_error for p in pubs]
    finally:
        for pub in pubs:
            pub.stop()
