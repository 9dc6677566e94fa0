"""A node too slow for its 2 s revisit bound says so in its status and heartbeats and sheds
optional work first, each step logged; fast again, it takes the work back. A scripted node
(no models, no broker: tests/support/scripted_node.py) whose detector takes 0.2 s a look, so
a sweep of the room and two seats takes about 0.6 s, held to a bound of 0.5 s to keep the test
short; and the second-look switch on the real phone finder and its SSDLite pair."""

from __future__ import annotations

import logging
import threading

import cv2

from edge.models.factory import DetectionChoice, create_object_detector
from edge.pipeline import set_second_looks
from kuzet import contract
from tests.fakes.detector import ScriptedDetector
from tests.support.footage import OPENCV_DATA
from tests.support.scripted_node import scripted_config, scripted_node
from tests.support.wait import wait_until


def test_a_slow_node_sheds_step_by_step_says_so_and_takes_the_work_back(tmp_path, caplog):
    cfg = scripted_config(tmp_path, phone=False, extra={
        "detection": {"skip_unchanged": False}})       # every seat looked at, every sweep
    slow = ScriptedDetector(infer_s=0.2)
    node = scripted_node(cfg, slow)
    node.budget.rise_after_s = 0.0       # shed at the first slow sweep of each level (the
    node.budget.fall_after_s = 0.0       # waits are the fake-clock tests' business)
    node.budget.window_s = 2.0
    node.budget.bound_s = 0.5
    runner = threading.Thread(target=node.run, daemon=True)
    caplog.set_level(logging.WARNING, logger="edge.health")
    runner.start()
    try:
        beats = lambda: node.publisher.of_kind("heartbeat")     # noqa: E731
        wait_until(lambda: any(b.shed_level == 2 for b in beats()), timeout=20)
        beat = next(b for b in beats() if b.shed_level == 2)
        assert beat.over_budget and beat.shed == ["second_looks", "faces_unchanged"]
        assert beat.worst_seat_revisit_s > 0.5
        wire = contract.encode(beat)
        assert contract.decode(wire) == beat and b'"shed_level":2' in wire
        reasons = node.status_message(node.health()).reasons
        assert "revisit slow: seats wait longer than the 0.5 s bound between looks with all " \
            "optional work shed" in reasons
        assert "shedding to keep the revisit bound: second looks (second phone detector, " \
            "hands), faces on unchanged seats" in reasons
        logged = [r.getMessage() for r in caplog.records]
        assert any("shedding second looks" in m and "(shed level 1)" in m for m in logged)
        assert any("shedding faces on unchanged seats" in m and "(shed level 2)" in m
                   for m in logged)
        # the faces are shed on the unchanged seats (the stills never change); the looks
        # prepared before the shedding (two in flight at most) have gone through first
        wait_until(lambda: node.stats.faces_shed >= 3, timeout=10)
        shed_before, faces_before = node.stats.faces_shed, node.face_detector.calls
        wait_until(lambda: node.stats.faces_shed >= shed_before + 2, timeout=10)
        assert node.face_detector.calls == faces_before

        slow.infer_s = 0.01                               # fast again: the work comes back
        wait_until(lambda: beats()[-1].shed_level == 0, timeout=20)
        assert not beats()[-1].over_budget
        assert b"shed" not in contract.encode(beats()[-1])   # the older wire form again
        wait_until(lambda: not any("revisit" in r or "shedding" in r
                                   for r in node.budget_state.reasons()), timeout=5)
        assert any("back on (shed level 0)" in r.getMessage() for r in caplog.records)
    finally:
        node.stop()
        runner.join(timeout=15)


def test_shedding_second_looks_turns_off_the_ssdlite_pair_on_a_real_seat_crop():
    frame = cv2.imread(str(OPENCV_DATA / "messi5.jpg"))
    detector = create_object_detector(DetectionChoice(second_gate=None))   # SSDLite every look
    pair = detector.detector
    detector.detect(frame)
    assert pair.second_runs == 1
    assert set_second_looks(detector, False) == 2          # the phone finder and the pair
    found = detector.detect(frame)
    assert pair.second_runs == 1 and pair.second_shed == 1
    assert any(d.label == "person" for d in found)         # NanoDet still looks
    set_second_looks(detector, True)
    detector.detect(frame)
    assert pair.second_runs == 2
