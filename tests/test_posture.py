"""The posture cue on keypoints of a seated student seen from the front of the room.

The student's shoulders are 80 px apart at y=200 (one shoulder width, w, is 80 px); the front
edge of the desk top, as the camera sees it, is at y=270. Each pose is written as what the
student does."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edge.posture import KEYPOINTS, Posture, PostureParams, posture
from edge.rules import Policy, RulesEngine, SeatLook
from kuzet.contract import Rule

DESK_Y = 270.0
UNSEEN = 0.05

UPRIGHT_HEAD = {"nose": (140, 165), "left_eye": (130, 157), "right_eye": (150, 157),
                "left_ear": (120, 162), "right_ear": (160, 162)}
# Bowed over the lap: the nose comes below the shoulder line (0.15 w below).
BOWED_HEAD = {"nose": (140, 212), "left_eye": (131, 204), "right_eye": (149, 204),
              "left_ear": (121, 196), "right_ear": (159, 196)}
SHOULDERS = {"left_shoulder": (100, 200), "right_shoulder": (180, 200)}
ARMS_ON_DESK = {"left_elbow": (95, 255), "right_elbow": (185, 255),
                "left_wrist": (125, 250), "right_wrist": (160, 252)}
# Upper arms hang down, forearms go under the desk: the wrists are out of sight.
HANDS_UNDER_DESK = {"left_elbow": (97, 262), "right_elbow": (183, 262),
                    "left_wrist": None, "right_wrist": None}


def pose(*parts: dict) -> np.ndarray:
    """A (17, 3) pose from named points; a point not given, or given as None, is unseen."""
    kp = np.zeros((len(KEYPOINTS), 3))
    kp[:, 2] = UNSEEN
    for part in parts:
        for name, xy in part.items():
            i = KEYPOINTS.index(name)
            kp[i] = (0, 0, UNSEEN) if xy is None else (*xy, 0.8)
    return kp


def test_an_upright_student_with_hands_on_the_desk():
    got = posture(pose(UPRIGHT_HEAD, SHOULDERS, ARMS_ON_DESK), DESK_Y)
    assert got == Posture(head_bowed=False, hands_low=False, score=0.0, why=got.why)
    assert "upright" in got.why and "left wrist above the desk edge" in got.why


@pytest.mark.parametrize("desk_y", [DESK_Y, None], ids=["desk edge known", "no desk edge"])
def test_a_student_writing_with_the_head_bowed_is_not_the_cue(desk_y):
    got = posture(pose(BOWED_HEAD, SHOULDERS, ARMS_ON_DESK), desk_y)
    assert got.head_bowed and not got.hands_low and got.score == 0.0


def test_head_bowed_and_hands_under_the_desk_is_the_cue():
    got = posture(pose(BOWED_HEAD, SHOULDERS, HANDS_UNDER_DESK), DESK_Y)
    assert got.head_bowed and got.hands_low and got.score == 1.0
    assert "left wrist unseen, elbow 0.78 shoulder widths below the shoulder" in got.why


def test_head_bowed_and_wrists_seen_below_the_desk_edge_is_the_cue():
    lap = {"left_elbow": (97, 262), "right_elbow": (183, 262),
           "left_wrist": (128, 285), "right_wrist": (152, 287)}
    assert posture(pose(BOWED_HEAD, SHOULDERS, lap), DESK_Y).score == 1.0


def test_without_a_desk_edge_a_seen_wrist_is_never_low():
    # From a high camera hands on the desk are as far below the shoulders as a lap would be.
    lap = {"left_elbow": (97, 262), "right_elbow": (183, 262),
           "left_wrist": (128, 310), "right_wrist": (152, 310)}
    got = posture(pose(BOWED_HEAD, SHOULDERS, lap))
    assert got.head_bowed and not got.hands_low and "no desk edge" in got.why


def test_without_a_desk_edge_hands_out_of_sight_under_the_desk_are_low():
    assert posture(pose(BOWED_HEAD, SHOULDERS, HANDS_UNDER_DESK)).score == 1.0


def test_the_hips_are_not_used():
    # Behind a desk MoveNet still places the hips; they say nothing about the hands.
    hips = {"left_hip": (115, 300), "right_hip": (165, 300)}
    assert posture(pose(BOWED_HEAD, SHOULDERS, ARMS_ON_DESK, hips)).hands_low is False


def test_one_hand_writing_and_one_in_the_lap_is_not_hands_low():
    arms = {**HANDS_UNDER_DESK, "right_wrist": (160, 252)}
    got = posture(pose(BOWED_HEAD, SHOULDERS, arms), DESK_Y)
    assert got.head_bowed and not got.hands_low and got.score == 0.0


def test_an_upright_student_with_hands_in_the_lap_is_not_the_cue():
    # Like the front-left student of the classroom clip: hands hidden below the desk, head up.
    got = posture(pose(UPRIGHT_HEAD, SHOULDERS, HANDS_UNDER_DESK), DESK_Y)
    assert got.hands_low and not got.head_bowed and got.score == 0.0


def test_a_hand_raised_out_of_sight_is_not_low():
    raised = {**HANDS_UNDER_DESK, "left_elbow": (90, 190)}     # elbow up by the head
    assert not posture(pose(BOWED_HEAD, SHOULDERS, raised), DESK_Y).hands_low


def test_a_hand_with_wrist_and_elbow_unseen_is_not_low():
    gone = {**HANDS_UNDER_DESK, "left_elbow": None}
    got = posture(pose(BOWED_HEAD, SHOULDERS, gone), DESK_Y)
    assert not got.hands_low and "left wrist and elbow unseen" in got.why


@pytest.mark.parametrize(
    "name, parts",
    [
        ("the face is hidden (no nose)", ({**BOWED_HEAD, "nose": None}, SHOULDERS)),
        ("one shoulder is hidden", (BOWED_HEAD, {**SHOULDERS, "right_shoulder": None})),
        ("the student is turned sideways: shoulders 5 px apart",
         (BOWED_HEAD, {"left_shoulder": (138, 200), "right_shoulder": (143, 200)})),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_no_posture_when_the_keypoints_it_needs_are_not_seen(name, parts):
    assert posture(pose(*parts, HANDS_UNDER_DESK), DESK_Y) is None


def test_the_cue_is_scale_free():
    near = pose(BOWED_HEAD, SHOULDERS, HANDS_UNDER_DESK)
    far = near.copy()
    far[:, :2] = far[:, :2] * 0.25 + 300     # the same student four times further away
    assert posture(far, DESK_Y * 0.25 + 300) == posture(near, DESK_Y)


def test_the_threshold_is_a_parameter():
    # A camera at eye level sees a bowed head higher than one mounted high: it may raise it.
    slightly = pose({**UPRIGHT_HEAD, "nose": (140, 195)}, SHOULDERS, HANDS_UNDER_DESK)
    assert not posture(slightly, DESK_Y).head_bowed
    assert posture(slightly, DESK_Y, PostureParams(bowed_nose_above=0.1)).head_bowed


def test_a_pose_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        posture(np.zeros((13, 3)))


def test_keypoint_order_is_the_pose_models():
    pose_model = pytest.importorskip("edge.models.pose")
    assert tuple(pose_model.KEYPOINTS) == KEYPOINTS


def score_of(kp: np.ndarray) -> float | None:
    p = posture(kp, DESK_Y)
    return None if p is None else p.score


def alerts(kp: np.ndarray, seconds: int) -> list[tuple]:
    """Run one student's pose through the rules engine, a look every 2 s."""
    ids = itertools.count(1)
    e = RulesEngine(new_id=lambda: f"a{next(ids)}")
    e.start_session(Policy("s1"), t=0.0)
    out = []
    for t in range(0, seconds + 1, 2):
        out += [(ev.event, ev.rule, ev.advisory) for ev in
                e.observe_seat(SeatLook("s01", float(t), persons=(0.9,), posture=score_of(kp)))
                + e.tick(float(t))]
    return out


def test_ten_minutes_writing_with_the_head_bowed_raise_nothing():
    assert alerts(pose(BOWED_HEAD, SHOULDERS, ARMS_ON_DESK), 600) == []


def test_ten_minutes_upright_with_hands_in_the_lap_raise_nothing():
    assert alerts(pose(UPRIGHT_HEAD, SHOULDERS, HANDS_UNDER_DESK), 600) == []


def test_half_a_minute_bowed_over_hands_under_the_desk_raises_one_advisory():
    got = alerts(pose(BOWED_HEAD, SHOULDERS, HANDS_UNDER_DESK), 30)
    assert got == [("open", Rule.HEAD_DOWN_HANDS_LOW, True)]
