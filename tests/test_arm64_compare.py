"""The arm64 check's comparison (kuzet_tools.arm64), on hand-made detect outputs: the check
itself runs under emulation (tests/test_arm64.py, marked arm64)."""

from __future__ import annotations

import pytest

from kuzet_tools.arm64 import Tolerance, compare


def run(*objects, faces=()):
    return [{"image": "a.jpg", "look": "node",
             "detections": [{"label": label, "score": score, "box": box}
                            for label, score, box in objects],
             "faces": [{"score": s, "box": b, "yaw": 0.0} for s, b in faces]}]


PERSON = ("person", 0.81, [10.0, 20.0, 110.0, 220.0])
PHONE = ("cell phone", 0.55, [40.0, 50.0, 60.0, 90.0])


def test_the_same_detections_agree_with_no_difference():
    got = compare(run(PERSON, PHONE), run(PHONE, PERSON), 0.3)
    assert got.pairs == 2 and got.max_box_px == 0 and got.max_score == 0
    assert got.agrees(Tolerance())


def test_the_worst_corner_and_score_are_measured_against_the_tolerance():
    moved = ("person", 0.80, [10.0, 20.0, 112.5, 220.0])
    got = compare(run(PERSON), run(moved), 0.3)
    assert got.max_box_px == pytest.approx(2.5) and got.max_score == pytest.approx(0.01)
    assert not got.agrees(Tolerance(box_px=2.0))
    assert got.agrees(Tolerance(box_px=3.0))


def test_a_detection_on_one_side_only_is_a_difference_unless_it_sits_on_the_threshold():
    faint = ("dog", 0.31, [0.0, 0.0, 30.0, 30.0])
    got = compare(run(PERSON, faint), run(PERSON), 0.3)
    assert got.near_threshold and not got.unpaired and got.agrees(Tolerance())
    got = compare(run(PERSON, PHONE), run(PERSON), 0.3)
    assert got.unpaired == ["a.jpg: cell phone 0.550 [40.0, 50.0, 60.0, 90.0] only here"]
    assert not got.agrees(Tolerance())


def test_faces_are_compared_too_and_another_label_is_no_partner():
    face = (0.9, [1.0, 2.0, 30.0, 40.0])
    assert not compare(run(PERSON, faces=[face]), run(PERSON), 0.3).agrees(Tolerance())
    tie = ("tie", 0.81, PERSON[2])
    assert compare(run(PERSON), run(tie), 0.3).unpaired


def test_runs_over_different_photos_are_refused():
    other = run(PERSON)
    other[0]["image"] = "b.jpg"
    with pytest.raises(ValueError, match="same photos"):
        compare(run(PERSON), other, 0.3)
