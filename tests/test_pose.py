"""MoveNet Lightning single-person pose on person crops of the real eval photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.models import registry
from edge.models.pose import KEYPOINTS, Pose, PoseEstimator
from kuzet.errors import ModelError
from kuzet_tools.models.evalset import EvalSetError, load_eval_set, read_image

# (image, person box, that person's face box from the eval labels)
PEOPLE = [
    ("bus", (50, 398, 243, 905), (102, 400, 160, 475)),
    ("bus", (216, 405, 346, 860), (260, 405, 312, 470)),
    ("zidane", (750, 42, 1140, 720), (920, 110, 1065, 265)),
    ("astronaut", (15, 15, 365, 512), (172, 60, 280, 175)),
    ("camera", (0, 65, 318, 512), (192, 110, 278, 205)),
    ("basketball", (30, 80, 165, 480), (60, 85, 105, 140)),
]


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    return registry.create_pose_estimator()


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    try:
        return {image.id: read_image(image) for image in load_eval_set()}
    except EvalSetError as exc:
        pytest.fail(f"eval images could not be obtained: {exc}")


def pose_in(estimator: PoseEstimator, image: np.ndarray,
            box: tuple[int, int, int, int]) -> tuple[Pose, np.ndarray]:
    """The pose of the person in ``box`` and its keypoints moved back into the image."""
    x1, y1, x2, y2 = box
    pose = estimator.estimate(image[y1:y2, x1:x2])
    return pose, pose.keypoints[:, :2] + (x1, y1)


def inside(point: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


@pytest.mark.parametrize("image_id, person, face", PEOPLE)
def test_the_nose_is_in_the_face_and_above_shoulders_and_hips(
        estimator: PoseEstimator, photos: dict, image_id: str,
        person: tuple[int, int, int, int], face: tuple[int, int, int, int]) -> None:
    pose, points = pose_in(estimator, photos[image_id], person)
    at = {name: points[i] for i, name in enumerate(KEYPOINTS)}
    assert pose.seen("nose") and inside(at["nose"], face)
    shoulders_y = (at["left_shoulder"][1] + at["right_shoulder"][1]) / 2
    hips_y = (at["left_hip"][1] + at["right_hip"][1]) / 2
    assert at["nose"][1] < shoulders_y < hips_y
    assert pose.seen("left_shoulder") and pose.seen("right_shoulder")
    # facing the camera: the person's left shoulder is on the image's right
    assert at["left_shoulder"][0] > at["right_shoulder"][0]


def test_standing_man_on_the_bus_photo_has_his_body_in_order(estimator: PoseEstimator,
                                                             photos: dict) -> None:
    pose, points = pose_in(estimator, photos["bus"], (216, 405, 346, 860))
    y = {name: points[i][1] for i, name in enumerate(KEYPOINTS)}
    assert y["nose"] < y["left_shoulder"] < y["left_hip"] < y["left_knee"] < y["left_ankle"]
    assert all(pose.seen(n) for n in ("left_hip", "right_hip", "left_ankle", "right_ankle"))
    assert y["left_ankle"] > 860 - 0.15 * (860 - 405)     # ankles near the bottom of the box


def test_wrists_of_the_man_holding_the_basketball_are_at_the_ball(estimator: PoseEstimator,
                                                                  photos: dict) -> None:
    pose, points = pose_in(estimator, photos["basketball"], (30, 80, 165, 480))
    ball = np.array([150.0, 124.0])                        # centre of the labelled ball
    for wrist in ("left_wrist", "right_wrist"):
        assert pose.seen(wrist)
        assert np.linalg.norm(points[KEYPOINTS.index(wrist)] - ball) < 45
        elbow = points[KEYPOINTS.index(wrist.replace("wrist", "elbow"))]
        # he holds the ball up at his chest: elbows down, forearms raised to the ball
        assert elbow[1] > points[KEYPOINTS.index(wrist)][1] + 25


def test_keypoints_follow_the_crop_when_it_is_scaled_or_padded(estimator: PoseEstimator,
                                                               photos: dict) -> None:
    x1, y1, x2, y2 = 216, 405, 346, 860
    crop = photos["bus"][y1:y2, x1:x2]
    base = estimator.estimate(crop)
    doubled = estimator.estimate(cv2.resize(crop, None, fx=2, fy=2))
    padded = estimator.estimate(cv2.copyMakeBorder(crop, 0, 0, 0, 200, cv2.BORDER_CONSTANT,
                                                   value=(0, 0, 0)))
    good = base.keypoints[:, 2] > 0.4
    assert good.sum() >= 10
    height = y2 - y1
    assert np.abs(doubled.keypoints[good, :2] / 2 - base.keypoints[good, :2]).max() < 0.04 * height
    assert np.abs(padded.keypoints[good, :2] - base.keypoints[good, :2]).max() < 0.06 * height


def test_pose_shape_staging_and_helpers(estimator: PoseEstimator, photos: dict) -> None:
    crop = photos["zidane"][42:720, 750:1140]
    prepared = estimator.prepare(crop)
    assert prepared.tensor.shape == (1, 192, 192, 3) and prepared.tensor.dtype == np.int32
    pose = estimator.decode(estimator.infer(prepared), prepared)
    np.testing.assert_array_equal(pose.keypoints, estimator.estimate(crop).keypoints)
    assert pose.keypoints.shape == (17, 3) and len(KEYPOINTS) == 17
    assert (0 <= pose.keypoints[:, 0]).all() and (pose.keypoints[:, 0] <= 390).all()
    assert (0 <= pose.keypoints[:, 1]).all() and (pose.keypoints[:, 1] <= 678).all()
    x, y, score = pose.point("nose")
    assert (x, y, score) == tuple(float(v) for v in pose.keypoints[0])
    assert set(pose.as_dict()) == set(KEYPOINTS)
    with pytest.raises(KeyError, match="no keypoint 'chin'"):
        pose.point("chin")


def test_an_empty_wall_has_no_confident_keypoints(estimator: PoseEstimator) -> None:
    pose = estimator.estimate(np.full((300, 200, 3), 127, np.uint8))
    assert pose.score < 0.15


def test_unknown_pose_estimator_lists_the_valid_ones() -> None:
    with pytest.raises(ModelError, match=r"unknown pose estimator 'openpose'; valid: movenet"):
        registry.create_pose_estimator("openpose")
