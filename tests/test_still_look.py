"""A still judged the way the node judges a room: the room look, seats (one per person found,
and a grid of seat-sized cells over the frame, as a node's seat map covers every seat), each
seat's crop looked at with the node's detector and face detector, boxes in the photo's
pixels; at seat distance, small seats are cut from the full-resolution still."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.models.base import Detection
from edge.models.factory import DetectionChoice, create_detectors
from edge.seats import Seat, SeatMap, SeatMapSpec, grid_seat_map
from edge.still_look import grid_cells, grid_seats, look_like_node, person_seats, seat_looks
from kuzet_tools.models.evalset import load_eval_set, read_image
from kuzet_tools.models.phone_sets import load_phones_dev, phones_dev_dir, seat_view

ROOT = Path(__file__).resolve().parents[1]
PHONES_DEV = phones_dev_dir()
needs_phones_dev = pytest.mark.skipif(
    not (PHONES_DEV / "labels.json").is_file(),
    reason=f"the shared phones-dev photos are not at {PHONES_DEV} (set KUZET_PHONES_DEV)")
# phones-dev photos whose phone the node finds at seat distance only from full-resolution crops
SEAT_DISTANCE_PHOTOS = ("d0256.jpg", "d0372.jpg")
# phones-dev close-ups of a phone in hand: at seat distance nobody is found around the phone
GRID_PHOTOS = ("d0021", "d0025")


def iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def best_phone_iou(dets, truth) -> float:
    return max((iou(d.box, t) for d in dets if d.label == "cell phone" for t in truth),
               default=0.0)


def at_seat_distance(image: np.ndarray, boxes: list, f: float = 0.35):
    """The photo shrunk to ``f`` in the middle of a grey 1280x720 frame, its boxes with it."""
    small = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 128, np.uint8)
    h, w = small.shape[:2]
    x0, y0 = (1280 - w) // 2, (720 - h) // 2
    frame[y0:y0 + h, x0:x0 + w] = small
    return frame, [[b[0] * f + x0, b[1] * f + y0, b[2] * f + x0, b[3] * f + y0] for b in boxes]


@pytest.fixture(scope="module")
def models():
    # NanoDet alone with every phone from 0.3: these tests are about pixels and geometry,
    # not the phone finder's operating point (the phones eval measures that)
    return create_detectors(DetectionChoice(second_detector="", phone_threshold=0.3))


@pytest.fixture(scope="module")
def seat_distance_frames() -> list[tuple[str, np.ndarray, list]]:
    labels = {r["file"]: r for r in json.loads((PHONES_DEV / "labels.json").read_text())}
    out = []
    for name in SEAT_DISTANCE_PHOTOS:
        photo = cv2.imread(str(PHONES_DEV / "images" / name))
        out.append((name, *at_seat_distance(photo, labels[name]["phones"])))
    return out


def test_person_seats_are_the_node_crops_around_each_person():
    people = [Detection("person", 0.9, (100, 50, 160, 170)),
              Detection("person", 0.8, (100, 50, 160, 170)),     # the same seat twice
              Detection("person", 0.7, (0, 0, 480, 480)),        # the whole frame: the room
              Detection("cell phone", 0.9, (300, 100, 320, 140))]
    spec = SeatMapSpec.model_validate({"frame_size": [480, 480], "seats": [
        {"id": "a", "polygon": [[100, 50], [160, 50], [160, 170], [100, 170]]}]})
    [seat] = person_seats(people, 480, 480)
    assert seat.crop == SeatMap(spec, 480, 480).seats[0].crop
    assert seat.contains(130, 110) and not seat.contains(310, 120)
    many = [Detection("person", 0.5, (10 * i, 0, 10 * i + 40, 80)) for i in range(10)]
    assert len(person_seats(many, 480, 480, max_seats=3)) == 3


def test_grid_seats_are_the_node_grid_over_the_whole_frame():
    assert grid_cells(1280, 720) == (6, 3)           # the default seat size, 240 px
    assert grid_cells(640, 640) == (3, 3)
    assert grid_cells(1280, 720, seat_px=320) == (4, 3)
    seats = grid_seats(640, 360, 4, 3)               # a 1280x720 still's 640x360 stream
    assert [s.crop for s in seats] == [s.crop for s in SeatMap(grid_seat_map(4, 3, 640, 360),
                                                               640, 360).seats]
    # every point of the frame lies in exactly one seat: nothing is left unlooked at
    for x, y in ((1, 1), (320, 180), (639, 359), (161, 119)):
        assert sum(s.contains(x, y) for s in seats) == 1
    assert grid_seats(200, 200, 1, 1) == []          # one cell: the room look itself


def test_seats_whose_crops_nearly_coincide_share_one_look():
    def seat(name, x1, y1, x2, y2):
        poly = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
        return Seat(name, poly, (x1 - 10, y1 - 10, x2 + 10, y2 + 10))

    a, b, c = seat("a", 100, 100, 200, 200), seat("b", 102, 100, 202, 200), \
        seat("c", 300, 100, 400, 200)
    looks = seat_looks([a, b, c])
    assert [look.seats for look in looks] == [(a, b), (c,)]
    assert looks[0].crop == a.crop
    assert looks[0].keeps((195, 150, 205, 160))       # centred in b, looked at in a's crop
    assert not looks[0].keeps((290, 150, 300, 160))


def test_the_node_look_finds_people_and_faces_in_photo_pixels(models):
    detector, faces = models
    zidane = next(img for img in load_eval_set() if img.id == "zidane")
    photo = cv2.imread(str(zidane.path))
    dets, found = look_like_node(photo, detector, faces)
    truth = [o["box"] for o in zidane.objects if o["label"] == "person"]
    people = [d for d in dets if d.label == "person"]
    assert all(any(iou(t, d.box) >= 0.5 for d in people) for t in truth)
    # the faces a look at the whole photo finds, each found once though the seats overlap
    for face in faces.detect(photo):
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        assert sum(f.box[0] < cx < f.box[2] and f.box[1] < cy < f.box[3] for f in found) == 1


@needs_phones_dev
def test_a_phone_at_seat_distance_is_found_in_the_full_resolution_seat(models,
                                                                        seat_distance_frames):
    detector, faces = models
    for name, frame, truth in seat_distance_frames:
        node, _ = look_like_node(frame, detector, faces, lores=(640, 360))
        assert best_phone_iou(node, truth) >= 0.5, name      # in the 1280x720 frame's pixels
        assert best_phone_iou(detector.detect(frame), truth) < 0.5, name    # the whole look
        lores_only, _ = look_like_node(frame, detector, faces, lores=(640, 360),
                                       from_main_below_px=0)
        assert best_phone_iou(lores_only, truth) < 0.5, name  # seats cut from lores only


@needs_phones_dev
def test_a_phone_where_nobody_is_found_is_seen_by_a_grid_seat(models):
    detector, faces = models
    for image in (im for im in load_phones_dev("tune") if im.id in GRID_PHOTOS):
        frame, seen = seat_view(image, read_image(image))      # on the classroom frame
        truth = [o["box"] for o in seen.objects if o["label"] == "cell phone"]
        students = [o["box"] for o in seen.objects if o["label"] == "person"]
        by_persons, _ = look_like_node(frame, detector, faces, lores=(640, 360),
                                       seats="persons")
        assert best_phone_iou(by_persons, truth) < 0.5, image.id
        both, _ = look_like_node(frame, detector, faces, lores=(640, 360))   # seats="both"
        assert best_phone_iou(both, truth) >= 0.5, image.id
        # the people are the room look's: the grid's seats lose none of the students
        people = [d.box for d in both if d.label == "person"]
        assert all(any(iou(s, p) >= 0.5 for p in people) for s in students), image.id
    with pytest.raises(ValueError, match="seats must be one of"):
        look_like_node(frame, detector, faces, seats="rows")


@needs_phones_dev
def test_edge_detect_looks_like_the_node_by_default(tmp_path):
    # d0002: a phone the default operating point finds at seat distance (both detectors)
    labels = {r["file"]: r for r in json.loads((PHONES_DEV / "labels.json").read_text())}
    photo = cv2.imread(str(PHONES_DEV / "images" / "d0002.jpg"))
    frame, truth = at_seat_distance(photo, labels["d0002.jpg"]["phones"])
    still = tmp_path / "seat-distance.png"
    cv2.imwrite(str(still), frame)
    cmd = [sys.executable, "-m", "kuzet_tools.cli", "edge", "detect", str(still)]
    out = subprocess.run(cmd + ["--lores", "640x360"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    [item] = json.loads(out.stdout)
    assert item["look"] == "node"
    phones = [d for d in item["detections"] if d["label"] == "cell phone"]
    assert phones and set(phones[0]) == {"label", "score", "box"}
    assert max(iou(d["box"], t) for d in phones for t in truth) >= 0.5

    refused = subprocess.run(cmd + ["--look", "whole", "--lores", "640x360"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "--lores is for --look node" in refused.stderr
    refused = subprocess.run(cmd + ["--look", "whole", "--seats", "grid"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "--seats and --seat-px are for --look node" in refused.stderr
