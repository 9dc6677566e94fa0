"""The change measure on real footage: the quiet classroom's empty seats do not change, not even
with sensor noise and a JPEG round trip added; its seated students' crops do not change from
one frame to the next; a person walking through a vtest.avi seat changes it; and the skip gate
looks when it must."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from edge.change import SkipGate, changed_share, has_changed, thumbnail
from edge.seats import SeatMap, grid_seat_map, load_seat_map
from kuzet_tools.examples import CLASSROOM, CLASSROOM_SEATS, VTEST_REGION


def read_frames(path, every: int = 1, limit: int = 10_000) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        i = 0
        while len(frames) < limit:
            ok, image = cap.read()
            if not ok:
                break
            if i % every == 0:
                frames.append(image)
            i += 1
    finally:
        cap.release()
    assert frames, path
    return frames


@pytest.fixture(scope="module")
def classroom() -> list[np.ndarray]:
    return read_frames(CLASSROOM)                    # 45 frames, 480x270, 16.7 fps


def cut(image: np.ndarray, seat) -> np.ndarray:
    x1, y1, x2, y2 = seat.crop
    return image[y1:y2, x1:x2]


def camera_like(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise (Gaussian, sigma 4 grey levels) and a JPEG round trip at quality 70."""
    noisy = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


GRID = SeatMap(grid_seat_map(6, 5, 480, 270), 480, 270)     # 30 seats over the classroom
EMPTY = ["r1s1", "r1s3", "r1s6", "r2s1", "r3s6", "r4s6"]     # wall, window, nobody there


def test_the_thumbnail_is_a_small_grey_square():
    thumb = thumbnail(np.full((150, 170, 3), 90, np.uint8))
    assert thumb.shape == (32, 32) and thumb.dtype == np.uint8 and int(thumb[5, 5]) == 90
    assert thumbnail(np.zeros((0, 0, 3), np.uint8)).shape == (32, 32)


def test_the_quiet_classrooms_empty_seats_never_change_even_through_a_noisy_camera(classroom):
    rng = np.random.default_rng(4)
    for seat_id in EMPTY:
        seat = GRID.by_id[seat_id]
        first = thumbnail(cut(classroom[0], seat))
        for frame in classroom:
            assert changed_share(first, thumbnail(cut(frame, seat))) == 0.0, seat_id
            assert not has_changed(first, thumbnail(cut(camera_like(frame, rng), seat))), seat_id


def test_a_seated_students_crop_does_not_change_from_one_frame_to_the_next(classroom):
    seats = SeatMap(load_seat_map(CLASSROOM_SEATS), 480, 270)
    for seat in seats.seats:
        thumbs = [thumbnail(cut(f, seat)) for f in classroom]
        assert not any(has_changed(a, b) for a, b in itertools.pairwise(thumbs)), seat.id


def test_a_student_pasted_into_an_empty_seat_changes_it(classroom):
    seat, student = GRID.by_id["r1s3"], GRID.by_id["r4s4"]   # r4s4: the front-right student
    image = classroom[0].copy()
    before = thumbnail(cut(image, seat))
    x1, y1, x2, y2 = seat.crop
    image[y1 + 30:y2, x1 + 30:x2] = cut(classroom[0], student)[30:, 30:]
    assert changed_share(before, thumbnail(cut(image, seat))) > 0.3


@pytest.mark.integration
def test_a_person_walking_through_a_vtest_seat_changes_it(vtest_avi):
    frames = read_frames(vtest_avi, every=10, limit=60)           # one a second for a minute
    seats = SeatMap(grid_seat_map(6, 5, 768, 576, region=VTEST_REGION), 768, 576)
    visits = changed = 0
    for seat in seats.seats:
        thumbs = [thumbnail(cut(f, seat)) for f in frames]
        for a, b in itertools.pairwise(thumbs):
            visits += 1
            changed += has_changed(a, b)
    assert changed / visits > 0.75          # people walk through the walkway's seats all along


@pytest.mark.integration
def test_a_walker_pasted_into_a_quiet_classroom_seat_is_a_change(classroom, vtest_avi):
    frame = read_frames(vtest_avi, every=300, limit=2)[1]                  # frame 300
    walker = frame[205:300, 310:348]         # a walking man (tests/data/eval/labels.json)
    seat = GRID.by_id["r1s6"]
    image = classroom[0].copy()
    before = thumbnail(cut(image, seat))
    x1, y1, _, _ = seat.crop
    small = cv2.resize(walker, (45, 90))
    image[y1 + 20:y1 + 110, x1 + 40:x1 + 85] = small
    assert has_changed(before, thumbnail(cut(image, seat)))


def test_the_gate_looks_first_then_only_at_change_what_is_watched_or_due(classroom):
    seat = GRID.by_id["r1s1"]
    gate = SkipGate(max_skip_s=10.0)
    still = cut(classroom[0], seat)
    assert gate.visit("r1s1", still, 0.0).why == "first"
    quiet = gate.visit("r1s1", cut(classroom[20], seat), 1.0)
    assert (quiet.look, quiet.changed, quiet.why) == (False, False, "unchanged")
    watched = gate.visit("r1s1", still, 2.0, watched=True)
    assert (watched.look, watched.changed, watched.why) == (True, False, "watched")
    assert not gate.visit("r1s1", still, 11.9).look          # 9.9 s after its last look
    assert gate.visit("r1s1", still, 12.0).why == "due"      # 10 s: looked at whatever
    moved = still.copy()
    moved[:60] = cut(classroom[0], GRID.by_id["r4s4"])[:60]
    changed = gate.visit("r1s1", moved, 12.5)
    assert (changed.look, changed.changed, changed.why) == (True, True, "changed")
    assert not gate.visit("r1s1", moved, 13.0).look         # the change is the new normal
    gate.forget()
    assert gate.visit("r1s1", moved, 13.5).why == "first"


def test_the_gate_switched_off_looks_at_every_visit_and_still_says_what_changed(classroom):
    seat = GRID.by_id["r1s1"]
    gate = SkipGate(enabled=False)
    still = cut(classroom[0], seat)
    assert gate.visit("s", still, 0.0).why == "off"
    again = gate.visit("s", still, 0.1)
    assert (again.look, again.changed) == (True, False)


def test_a_bound_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="max_skip_s"):
        SkipGate(max_skip_s=0)
