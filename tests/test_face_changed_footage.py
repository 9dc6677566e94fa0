"""The changed-face rule on real footage with the real models (the CC BY 4.0 Intel clips and
the classroom clip of the face set): the node's own parts, ``edge.face_check.FaceCheck`` (its
check-in face, a comparison every 15 s) and the rules core, and the rules core measured by
``kuzet_tools.models.face_eval.changed_face`` on the same sequences as the reference rule
(the figures of docs/detection.md)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.face_check import FaceCheck, FaceCheckParams
from edge.models.registry import create_face_detector, create_face_embedder
from edge.rules import FACE_THRESHOLD, Policy, RulesEngine, SeatLook
from edge.seats import Seat
from kuzet.contract import AlertEvent, Rule

pytestmark = pytest.mark.integration          # real footage, every frame through the models

MALE, FEMALE = "head-pose-face-detection-male.gif", "head-pose-face-detection-female.gif"


def engine() -> RulesEngine:
    e = RulesEngine()
    e.start_session(Policy("s1", face_check=True), 0.0)
    return e


def opened(e: RulesEngine, look: SeatLook) -> bool:
    return any(ev.rule == Rule.FACE_CHANGED and ev.event == AlertEvent.OPEN
               for ev in e.observe_seat(look) + e.tick(look.t))


def engine_rule(comparisons) -> float | None:
    """The rules core as face_eval's rule: a look a second, the comparisons' similarities at
    their times (``SeatLook.face_sim``); the time the advisory opens, or None."""
    e = engine()
    at = {round(t, 3): s for t, s in comparisons}
    for k in range(int(max(at, default=0)) + 1):
        if opened(e, SeatLook("s", float(k), persons=(0.8,), face_sim=at.get(float(k)))):
            return float(k)
    return None


def test_the_node_raises_nothing_for_the_same_man_and_raises_after_the_switch():
    """One seat (the whole 480x270 frame): the man's clip for 5 minutes, looked at once a
    second (the frames in turn), then the woman's. The check-in face is his first good face;
    nothing is raised for him; the advisory opens within a minute of the switch."""
    from kuzet_tools.models.face_sets import clip_frames

    detector = create_face_detector(with_yaw=True, num_threads=1)
    check = FaceCheck(lambda: create_face_embedder(num_threads=1), FaceCheckParams())
    check.start(True)
    seat = Seat("s", np.array([[0, 0], [480, 0], [480, 270], [0, 270]], np.float32),
                (0, 0, 480, 270))
    e = engine()
    man, _ = clip_frames(MALE)
    woman, _ = clip_frames(FEMALE)
    sims, raised = [], None
    for k in range(480):
        frame = man[k % len(man)] if k < 300 else woman[k % len(woman)]
        sim = check.look(seat, frame, detector.detect(frame), float(k))
        if sim is not None:
            sims.append((k, sim))
        if opened(e, SeatLook("s", float(k), persons=(0.8,), face_sim=sim)) and raised is None:
            raised = k
    assert check.embedded <= 480 / 15 + 2            # the cost bound: one per 15 s, not per look
    before = [s for k, s in sims if k < 300]
    after = [s for k, s in sims if k >= 315]
    assert len(before) >= 10 and min(before) >= FACE_THRESHOLD, before
    assert after and max(after) < FACE_THRESHOLD, after
    assert raised is not None and 300 <= raised <= 360, (raised, sims)


def test_the_rules_core_measures_as_the_reference_rule_on_the_face_sets_footage():
    from kuzet_tools.models import face_eval

    tracks = face_eval.track_embeddings()
    ours = face_eval.changed_face(FACE_THRESHOLD, 15.0, median_of=3, rule=engine_rule,
                                  tracks=tracks)
    ref = face_eval.changed_face(FACE_THRESHOLD, 15.0, median_of=3, tracks=tracks)
    assert ours["same"]["false_raises"] == 0 and ours["same"]["sequences"] >= 8
    assert ours["switched"]["false_before_switch"] == 0
    assert ours["switched"]["detected"] == ref["switched"]["detected"] >= 16
    assert ours["switched"]["delay_s_median"] <= 45
