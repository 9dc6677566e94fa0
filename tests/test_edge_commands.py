"""Hub commands and the button on a scripted node with a fake publisher (no broker): each
command is run on the rules thread's turn and answered; a failing one is answered too."""

from __future__ import annotations

import json

import cv2
import pytest

from edge.node import EdgeNode
from kuzet import contract
from tests.fakes.detector import ScriptedDetector, coloured
from tests.fakes.publisher import FakePublisher, queued
from tests.support.scripted_node import RED, nothing_seen, scripted_config, scripted_node
from tests.support.wait import wait_until

ONE_SEAT = {"room": "a101", "frame_size": [320, 240],
            "seats": [{"id": "front", "polygon": [[0, 0], [320, 0], [320, 120], [0, 120]]}]}


@pytest.fixture
def cfg(tmp_path):
    return scripted_config(tmp_path, exam=False)


@pytest.fixture
def node(cfg):
    node = scripted_node(cfg, nothing_seen())
    yield node
    node.stop()


def fake(node: EdgeNode) -> FakePublisher:
    assert isinstance(node.publisher, FakePublisher)
    return node.publisher


def alerts(node: EdgeNode, event: str) -> list[dict]:
    return [m for m in queued(node.outbox, "alert") if m["event"] == event]


def run(node: EdgeNode, cmd: contract.CommandMessage) -> contract.CommandReply:
    """As paho's thread hands a command over, then the rules thread's turn."""
    node.publisher.on_command(cmd)
    node.commands.run_pending()
    return fake(node).replies()[cmd.id]


def start(session_id: str = "math-1", **kw) -> contract.CommandMessage:
    return contract.CommandMessage(action="start_session", session=contract.StartSession(
        session_id=session_id, **kw))


def test_start_and_stop_a_session(node, cfg):
    reply = run(node, start("math-1", allowed_aids=["calculator"], roster_size=20))
    assert reply.ok and reply.detail == "session math-1 started"
    assert node.engine.policy is not None and node.engine.policy.session_id == "math-1"
    assert node.engine.policy.allowed_aids == frozenset({"calculator"})
    saved = json.loads((cfg.node.data_dir / "state.json").read_text())
    assert saved["session"]["session_id"] == "math-1"
    assert fake(node).status is not None and fake(node).status.session_id == "math-1"

    reply = run(node, contract.CommandMessage(action="stop_session", session_id="math-1"))
    assert reply.ok and reply.detail == "session math-1 stopped"
    assert node.engine.policy is None and node.state.session is None
    assert fake(node).status.session_id is None


@pytest.mark.parametrize("stop, why", [
    (contract.CommandMessage(action="stop_session", session_id="physics-2"),
     "refused: session math-1 runs, not physics-2"),
    (contract.CommandMessage(action="stop_session"),            # an older hub's stop
     "refused: stop_session names no session_id"),
])
def test_a_stop_for_another_session_or_none_is_refused_and_nothing_stops(node, stop, why):
    assert run(node, start("math-1")).ok
    reply = run(node, stop)
    assert not reply.ok and reply.detail.startswith(why)
    assert node.engine.policy is not None and node.engine.policy.session_id == "math-1"
    assert node.state.session["session_id"] == "math-1"


def test_a_stop_when_nothing_runs_is_answered_ok(node):
    reply = run(node, contract.CommandMessage(action="stop_session", session_id="math-1"))
    assert reply.ok and "not running" in reply.detail and node.engine.policy is None


def test_a_new_session_closes_the_alerts_of_the_last(cfg):
    node = scripted_node(cfg)                          # sees a phone at r1s1
    node.start()
    try:
        node.publisher.on_command(start("math-1"))
        assert wait_until(lambda: alerts(node, "open"), 20)
        [first] = alerts(node, "open")
        assert first["session_id"] == "math-1"
        node.publisher.on_command(start("physics-2"))
        assert wait_until(lambda: len(alerts(node, "open")) == 2, 20)
        [closed] = alerts(node, "close")
        assert closed["alert_id"] == first["alert_id"] and closed["session_id"] == "math-1"
        assert alerts(node, "open")[1]["session_id"] == "physics-2"
    finally:
        node.stop()


def test_a_snapshot_before_the_camera_delivers_fails_and_says_why(node):
    reply = run(node, contract.CommandMessage(action="snapshot"))
    assert not reply.ok and "no frame yet" in reply.detail
    assert node.engine.policy is None                  # nothing else happened


def test_a_snapshot_is_sent_as_evidence(node):
    node.start()
    assert wait_until(lambda: node.stats.frames_in > 0, 20)
    cmd = contract.CommandMessage(action="snapshot")
    node.publisher.on_command(cmd)                     # the rules thread runs it
    assert wait_until(lambda: cmd.id in fake(node).replies(), 20)
    reply = fake(node).replies()[cmd.id]
    assert reply.ok
    [evidence] = queued(node.outbox, "evidence")
    assert evidence["evidence_id"] == reply.detail and evidence["alert_id"] == cmd.id
    assert evidence["kind"] == "snapshot"


def test_a_pushed_seat_map_is_kept_and_outlives_a_restart(node, cfg):
    reply = run(node, contract.CommandMessage(action="reload_seatmap", seatmap=ONE_SEAT))
    assert reply.ok and reply.detail == "1 seats"
    pushed = cfg.node.data_dir / "seats.pushed.json"
    assert json.loads(pushed.read_text())["seats"][0]["id"] == "front"
    assert [s.id for s in node.seat_spec.seats] == ["front"]
    assert json.loads(cfg.seat_map.read_text())["seats"][0]["id"] == "r1s1"   # untouched
    node.outbox.close()
    again = scripted_node(cfg, nothing_seen())
    assert [s.id for s in again.seat_spec.seats] == ["front"]


def test_the_new_seat_map_is_used_from_the_next_frame(node):
    node.start()
    assert wait_until(lambda: node.seat_map is not None and len(node.seat_map) == 2, 20)
    node.publisher.on_command(contract.CommandMessage(action="reload_seatmap",
                                                      seatmap=ONE_SEAT))
    assert wait_until(lambda: list(node.seat_map.by_id) == ["front"], 20)


def test_reload_without_a_map_reads_the_file_in_force_again(node, cfg):
    seats = json.loads(cfg.seat_map.read_text())
    cfg.seat_map.write_text(json.dumps({**seats, "seats": seats["seats"][:1]}))
    reply = run(node, contract.CommandMessage(action="reload_seatmap"))
    assert reply.ok and reply.detail == "1 seats"


def test_the_button_starts_a_local_session_and_stops_it(node):
    node.commands.press_button()
    node.commands.run_pending()
    assert node.engine.policy is not None
    assert node.engine.policy.session_id.startswith("local-")
    node.commands.press_button()
    node.commands.run_pending()
    assert node.engine.policy is None
    assert fake(node).replies() == {}                  # the button gets no reply


def test_the_button_starts_the_configured_exam(tmp_path):
    node = scripted_node(scripted_config(tmp_path, exam=True), nothing_seen())
    try:
        node.commands.press_button()                   # the exam is not started yet
        node.commands.run_pending()
        assert node.engine.policy is not None and node.engine.policy.session_id == "exam-1"
    finally:
        node.stop()


def test_a_reply_is_dropped_quietly_while_the_hub_is_away(node):
    fake(node).connected.clear()
    cmd = start()
    node.publisher.on_command(cmd)
    node.commands.run_pending()
    assert node.engine.policy is not None and fake(node).replies() == {}


def check_in(seat: str) -> contract.CommandMessage:
    return contract.CommandMessage(action="check_in", seat=seat, session_id="math-1")


def _answered(node: EdgeNode, cmd: contract.CommandMessage) -> contract.CommandReply:
    node.publisher.on_command(cmd)                     # the rules thread runs it
    assert wait_until(lambda: cmd.id in fake(node).replies(), 20)
    return fake(node).replies()[cmd.id]


def test_a_check_in_sends_the_seats_crop_as_check_in_evidence(node):
    node.start()
    assert wait_until(lambda: node.stats.frames_in > 0, 20)
    cmd = check_in("r1s2")
    reply = _answered(node, cmd)
    assert reply.ok, reply.detail
    [evidence] = queued(node.outbox, "evidence")
    assert evidence["alert_id"] == cmd.id and evidence["kind"] == "check-in"
    assert evidence["evidence_id"] in reply.detail
    # no exam runs on the node: it has looked at no seat, and says so
    assert evidence["seated"] == {"seat": None, "taken": None, "looked": 0}
    assert "no exam runs" in reply.detail
    [path] = [p for p in (node.cfg.node.data_dir / "evidence" / cmd.id).glob("*.jpg")]
    crop = cv2.imread(str(path))
    seat = node.seat_map.by_id["r1s2"]
    x1, y1, x2, y2 = seat.crop
    assert crop.shape[:2] == (y2 - y1, x2 - x1)        # the seat's crop, not the frame
    assert crop.shape[1] < 320


def test_a_check_in_during_the_exam_says_who_the_node_sees_seated(tmp_path):
    node = scripted_node(scripted_config(tmp_path, exam=False),
                         ScriptedDetector(coloured("person", RED), infer_s=0.01))
    try:
        node.start()
        assert _answered(node, start("math-1")).ok
        assert wait_until(lambda: len(node.engine.seated(
            node.pipeline.latest.t_mono, contract.CHECK_IN_SEEN_S)) == 2, 20)
        reply = _answered(node, check_in("r1s1"))
        assert reply.ok and "seat taken; 1 of 2 seats looked at taken" in reply.detail
        [evidence] = queued(node.outbox, "evidence")
        assert evidence["seated"] == {"seat": True, "taken": 1, "looked": 2}
        reply = _answered(node, check_in("r1s2"))
        assert reply.ok and "seat empty" in reply.detail
    finally:
        node.stop()


def test_a_check_in_of_a_seat_not_on_the_map_or_before_a_frame_is_refused(node):
    reply = run(node, check_in("r9s9"))
    assert not reply.ok and "no frame yet" in reply.detail
    node.start()
    assert wait_until(lambda: node.stats.frames_in > 0, 20)
    reply = _answered(node, check_in("r9s9"))
    assert not reply.ok and reply.detail == "refused: seat r9s9 is not in the seat map"
    assert queued(node.outbox, "evidence") == []
