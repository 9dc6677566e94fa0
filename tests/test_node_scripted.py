"""The whole node with scripted detectors on synthetic stills, no broker: a phone at a seat
becomes an alert with its evidence in the outbox, the alert closes when the phone goes, a
restart closes what a stop left open, and the status and heartbeats tell the truth."""

from __future__ import annotations

import threading

import pytest

from edge.node import EdgeNode
from tests.fakes.publisher import FakePublisher, queued
from tests.support.scripted_node import (
    PhoneDetector,
    nothing_seen,
    scripted_config,
    scripted_node,
)
from tests.support.wait import wait_until


@pytest.fixture
def cfg(tmp_path):
    return scripted_config(tmp_path)


def alerts(node: EdgeNode, event: str | None = None) -> list[dict]:
    return [m for m in queued(node.outbox, "alert") if event is None or m["event"] == event]


def publisher(node: EdgeNode) -> FakePublisher:
    assert isinstance(node.publisher, FakePublisher)
    return node.publisher


def test_a_phone_at_a_seat_becomes_an_alert_with_its_evidence(cfg):
    node = scripted_node(cfg)
    node.start()
    try:
        assert wait_until(lambda: alerts(node, "open"), 20), node.health()
        [opened] = alerts(node, "open")
        assert opened["rule"] == "device" and opened["seat"] == "r1s1"
        assert opened["session_id"] == "exam-1" and not opened["advisory"]
        assert [e["kind"] for e in opened["evidence"]] == ["snapshot", "crop"]
        evidence = queued(node.outbox, "evidence")
        assert {e["evidence_id"] for e in opened["evidence"]} <= {
            e["evidence_id"] for e in evidence}
        assert set(node.state.open_alerts) == {opened["alert_id"]}
        stats = node.stats
        assert stats.looks > 0 and stats.frames_in > 0 and stats.alerts_emitted >= 1
        assert stats.threads_alive and stats.held_in_memory == 0
        assert stats.worst_seat_revisit is not None and stats.worst_seat_revisit < 5
        assert node.seat_map is not None and list(node.seat_map.by_id) == ["r1s1", "r1s2"]
    finally:
        node.stop()
    kinds = [e["kind"] for e in queued(node.outbox, "evidence")
             if e["alert_id"] == opened["alert_id"]]
    assert kinds[:2] == ["snapshot", "crop"] and "clip" in kinds   # the clip, at stop at last
    assert publisher(node).status is not None and publisher(node).status.state == "offline"
    assert not node.threads_alive()


def test_the_alert_closes_once_the_phone_is_gone(cfg):
    detector = PhoneDetector()
    node = scripted_node(cfg, detector)
    node.start()
    try:
        assert wait_until(lambda: alerts(node, "open"), 20)
        detector.phone_visible.clear()
        assert wait_until(lambda: alerts(node, "close"), 20)
        [opened], [closed] = alerts(node, "open"), alerts(node, "close")
        assert closed["alert_id"] == opened["alert_id"]
        assert closed["started_at"] == opened["started_at"]
        assert closed["duration_s"] >= 0.3 and "closed_by" not in closed["detail"]
        assert wait_until(lambda: not node.state.open_alerts)
    finally:
        node.stop()


def test_a_restart_closes_what_a_stop_left_open(cfg):
    node = scripted_node(cfg)
    node.start()
    try:
        assert wait_until(lambda: alerts(node, "open"), 20)
    finally:
        node.stop()
    left_open = set(node.state.open_alerts)
    assert left_open
    node.outbox.close()
    again = scripted_node(cfg, nothing_seen())
    again.start()
    try:
        closes = {m["alert_id"]: m for m in alerts(again, "close")}
        assert left_open <= set(closes)
        assert all(closes[a]["detail"] == {"closed_by": "node restart"} for a in left_open)
        assert not again.state.open_alerts
        assert again.engine.policy is not None      # the session goes on after the restart
        assert again.engine.policy.session_id == "exam-1"
    finally:
        again.stop()


def test_status_and_heartbeats_while_it_runs(cfg):
    node = scripted_node(cfg, nothing_seen())
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    fake = publisher(node)
    try:
        assert wait_until(lambda: fake.of_kind("heartbeat"), 20)
        assert wait_until(lambda: fake.of_kind("heartbeat")[-1].fps > 0, 20)
        beat = fake.of_kind("heartbeat")[-1]
        assert beat.model_versions == {"detector": "scripted", "faces": "scripted-faces"}
        assert beat.inference_ms > 0 and beat.worst_seat_revisit_s is not None
        status = fake.status
        assert status is not None and status.state == "online"
        assert status.session_id == "exam-1" and status.source.state == "ok"
    finally:
        node.stop_event.set()
        runner.join(15)
    assert not runner.is_alive() and fake.status.state == "offline" and fake.stopped


def test_a_missing_camera_makes_the_status_degraded(tmp_path):
    cfg = scripted_config(tmp_path, extra={"source": {"type": "folder",
                                                      "path": str(tmp_path / "unplugged"),
                                                      "fps": 20}})
    node = scripted_node(cfg, nothing_seen())
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    fake = publisher(node)
    try:
        assert wait_until(lambda: fake.status is not None and fake.status.state == "degraded",
                          20)
        assert fake.status.source.state == "failed"
        assert any("unplugged" in r for r in fake.status.reasons)
        assert runner.is_alive()
    finally:
        node.stop_event.set()
        runner.join(15)
