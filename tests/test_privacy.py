"""Evidence snapshots blur every face but the flagged student's: the privacy rule, other
students are not shown."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.evidence import EvidenceStore
from edge.models.registry import create_face_detector
from edge.privacy import FaceBlur, blur_boxes, tiles
from kuzet_tools.models.evalset import load_eval_set


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    path = next(i.path for i in load_eval_set() if i.id == "bus")
    return cv2.imread(str(path))


@pytest.fixture(scope="module")
def blur() -> FaceBlur:
    return FaceBlur(create_face_detector(with_yaw=False))


def changed(a: np.ndarray, b: np.ndarray, box) -> float:
    x1, y1, x2, y2 = (int(v) for v in box)
    return float(np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2].astype(int)).mean())


def test_tiles_cover_the_image():
    ts = tiles(1920, 1080, 480)
    assert (0, 0, 480, 480) in ts and max(t[2] for t in ts) == 1920
    assert max(t[3] for t in ts) == 1080
    assert tiles(400, 300, 480) == [(0, 0, 400, 300)]


def test_faces_other_than_the_seat_are_blurred(bus, blur):
    faces = blur.faces(bus)
    assert len(faces) == 2                                  # the two people facing the camera
    left, right = sorted(faces)
    def seat(x: float, y: float) -> bool:                 # the left man's seat
        return x < 200

    out, blurred = blur.blur(bus, keep=seat)
    assert blurred == [right]
    assert changed(bus, out, right) > 10                   # unrecognisable
    assert changed(bus, out, left) == 0                    # the flagged student stays clear
    assert len(blur.faces(out)) == 1                       # only his face is still found


def test_room_level_alerts_blur_every_face(bus, blur):
    out, blurred = blur.blur(bus, keep=lambda x, y: False)
    assert len(blurred) == 2 and blur.faces(out) == []


def test_the_clip_gets_the_same_blur(tmp_path, bus, blur):
    _, blurred = blur.blur(bus, keep=lambda x, y: False)
    ok, jpg = cv2.imencode(".jpg", bus)
    store = EvidenceStore(tmp_path, max_bytes=10**9, min_free_bytes=0)
    clip = store.clip("a" * 32, [jpg.tobytes()] * 3, 4, 0.0, mask=blur_boxes(blurred))
    cap = cv2.VideoCapture(str(clip.path))
    ok, frame = cap.read()
    cap.release()
    assert ok and changed(bus, frame, blurred[0]) > 10
