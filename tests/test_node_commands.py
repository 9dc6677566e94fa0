"""The node in-process against a real broker: commands from the hub, status that tells the
truth, and a camera that fails without taking the node down."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import load_config
from edge.node import EdgeNode
from kuzet import contract
from kuzet_tools.examples import write_vtest_node
from tests.support.subscriber import Recorder
from tests.support.wait import wait_until

ORIGIN = contract.Origin(building="main", room="a101", node="cam1")




@pytest.fixture
def hub_client(broker):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect(broker.host, broker.port)
    c.loop_start()
    yield c
    c.loop_stop()
    c.disconnect()


def send(client, cmd: contract.CommandMessage) -> None:
    client.publish(contract.topic(ORIGIN, "cmd"), contract.encode(cmd), qos=1).wait_for_publish(5)


def replies(rec: Recorder) -> dict[str, dict]:
    return {m["command_id"]: m for m in map(json.loads, rec.on("reply"))}


def last_status(rec: Recorder) -> dict | None:
    s = rec.on("status")
    return json.loads(s[-1]) if s else None


def test_commands_start_stop_snapshot_and_reload_the_seat_map(tmp_path, broker, hub_client,
                                                             vtest_avi):
    cfg = load_config(write_vtest_node(tmp_path / "n", broker_port=broker.port, loop=True))
    cfg = cfg.model_copy(update={"exam": None})          # no session until the hub starts one
    rec = Recorder(broker.host, broker.port)
    node = EdgeNode(cfg)
    node.start()
    try:
        assert wait_until(lambda: node.stats.looks > 5 and node.publisher.connected.is_set())
        assert node.engine.policy is None
        start = contract.CommandMessage(action="start_session", session=contract.StartSession(
            session_id="math-1", allowed_aids=["calculator"], roster_size=20))
        send(hub_client, start)
        assert wait_until(lambda: start.id in replies(rec))
        assert replies(rec)[start.id]["ok"]
        assert node.engine.policy.session_id == "math-1"
        assert wait_until(lambda: (last_status(rec) or {}).get("session_id") == "math-1")

        snap = contract.CommandMessage(action="snapshot")
        send(hub_client, snap)
        assert wait_until(lambda: snap.id in replies(rec))
        evidence_id = replies(rec)[snap.id]["detail"]
        assert wait_until(lambda: any(json.loads(p)["evidence_id"] == evidence_id
                                      for p in rec.on("evidence")))

        seatmap = {"room": "a101", "frame_size": [768, 576],
                   "seats": [{"id": "front", "polygon": [[0, 130], [768, 130], [768, 330],
                                                          [0, 330]]}]}
        reload = contract.CommandMessage(action="reload_seatmap", seatmap=seatmap)
        send(hub_client, reload)
        assert wait_until(lambda: reload.id in replies(rec))
        reply = replies(rec)[reload.id]
        assert reply["ok"] and reply["detail"] == "1 seats"
        pushed = cfg.node.data_dir / "seats.pushed.json"     # the data dir: writable on a Pi
        assert json.loads(pushed.read_text())["seats"][0]["id"] == "front"
        assert json.loads(cfg.seat_map.read_text())["seats"][0]["id"] != "front"
        assert wait_until(lambda: node.seat_map is not None
                          and list(node.seat_map.by_id) == ["front"])

        bad_id = contract.new_id()          # a map the contract refuses: answered, not run
        bad = {"schema": contract.SCHEMA, "type": "command", "id": bad_id,
               "action": "reload_seatmap", "seatmap": {"frame_size": [1, 1]},
               "sent_at": "2026-01-01T00:00:00Z"}
        hub_client.publish(contract.topic(ORIGIN, "cmd"), json.dumps(bad).encode(), qos=1)
        assert wait_until(lambda: bad_id in replies(rec))
        assert not replies(rec)[bad_id]["ok"] and "seats" in replies(rec)[bad_id]["detail"]

        hub_client.publish(contract.topic(ORIGIN, "cmd"), b"{garbage", qos=1)  # ignored
        stop = contract.CommandMessage(action="stop_session", session_id="math-1")
        send(hub_client, stop)
        assert wait_until(lambda: stop.id in replies(rec))
        assert node.engine.policy is None and node.state.session is None
        assert node.threads_alive()
    finally:
        node.stop()
        rec.close()
    again = EdgeNode(cfg)                                 # the pushed map outlives a restart
    assert [seat.id for seat in again.seat_spec.seats] == ["front"]


def test_a_session_survives_a_restart(tmp_path, broker, vtest_avi):
    cfg = load_config(write_vtest_node(tmp_path / "n", broker_port=broker.port, loop=True))
    cfg = cfg.model_copy(update={"exam": None})
    node = EdgeNode(cfg)
    node.start_session(contract.StartSession(session_id="physics-2"))
    node.outbox.close()
    again = EdgeNode(cfg)
    again.start()
    try:
        assert again.engine.policy is not None and again.engine.policy.session_id == "physics-2"
    finally:
        again.stop()


def test_a_missing_camera_is_reported_and_the_node_keeps_running(tmp_path, broker):
    cfg = load_config(write_vtest_node(tmp_path / "n", broker_port=broker.port,
                                       video=tmp_path / "unplugged.avi"))
    rec = Recorder(broker.host, broker.port)
    node = EdgeNode(cfg)
    stopper = None
    try:
        import threading
        stopper = threading.Thread(target=node.run, daemon=True)
        stopper.start()
        assert wait_until(lambda: (last_status(rec) or {}).get("state") == "degraded", 20)
        status = last_status(rec)
        assert status["source"]["state"] == "failed"
        assert any("unplugged.avi" in r for r in status["reasons"])
        assert stopper.is_alive()
    finally:
        node.stop_event.set()
        if stopper is not None:
            stopper.join(15)
        rec.close()
    assert last_status(rec)["state"] == "offline"


def test_heartbeats_and_the_led_and_button(tmp_path, broker, vtest_avi):
    import threading

    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    cfg = load_config(write_vtest_node(tmp_path / "n", broker_port=broker.port, loop=True,
                                       extra={"gpio": {"enabled": True, "led_pin": 17,
                                                       "button_pin": 27}}))
    cfg = cfg.model_copy(update={"exam": None})
    rec = Recorder(broker.host, broker.port)
    node = EdgeNode(cfg, pin_factory=factory)
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    try:
        assert wait_until(lambda: len(rec.on("heartbeat")) >= 2, 20)
        beat = json.loads(rec.on("heartbeat")[-1])
        assert beat["fps"] > 0 and beat["inference_ms"] > 0
        assert 0 < beat["worst_seat_revisit_s"] < 10
        assert beat["model_versions"] == {
            "detector": "nanodet-m-416-int8+ssdlite-mobilenet-v2+remote",
            "faces": "blazeface-full-range"}
        assert beat["disk_free_mb"] > 0 and beat["outbox_depth"] >= 0
        led, button = factory.pin(17), factory.pin(27)
        assert led.state is False                          # no exam: the LED is off
        button.drive_low()
        button.drive_high()                                # the proctor presses the button
        assert wait_until(lambda: node.engine.policy is not None)
        assert wait_until(lambda: led.state is True)       # watching
        assert wait_until(lambda: (last_status(rec) or {}).get("session_id", "").startswith(
            "local-"))
        button.drive_low()
        button.drive_high()
        assert wait_until(lambda: node.engine.policy is None)
        assert wait_until(lambda: led.state is False)
    finally:
        node.stop_event.set()
        runner.join(15)
        rec.close()
        factory.reset()
