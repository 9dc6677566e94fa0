"""Seats cut from the full-resolution main stream: a seat that the detection (lores) stream
gives too few pixels is cut from the frame's main picture of the same moment, and what the
models find there comes back in the lores pixels the seat map is drawn in."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from edge.capture.supervisor import ResilientSource
from edge.config import parse_config
from edge.evidence import FrameRing
from edge.models.factory import DetectionChoice, create_detectors
from edge.pipeline import Pipeline, decode_look, infer_look, prepare_look
from edge.schedule import LookScheduler
from edge.seat_cut import box_to_frame, cut_seat
from edge.seat_plan import SeatPlan
from edge.seats import SeatMap, SeatMapSpec
from edge.stats import Counters
from kuzet.errors import ConfigError
from kuzet_tools.models.evalset import load_eval_set
from kuzet_tools.models.phone_sets import phones_dev_dir
from tests.fakes.still_stream import SeatLooks, StillStream

PHONES_DEV = phones_dev_dir()
needs_phones_dev = pytest.mark.skipif(
    not (PHONES_DEV / "labels.json").is_file(),
    reason=f"the shared phones-dev photos are not at {PHONES_DEV} (set KUZET_PHONES_DEV)")
# phones-dev photos whose phone, at seat distance, only the main stream's pixels show
MAIN_ONLY_PHONES = ("d0372.jpg", "d0102.jpg")
LORES = (427, 240)            # a third of 1280x720 (3.0x down, 2.998x across)


def iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def square_seat(box, frame_size) -> SeatMapSpec:
    x1, y1, x2, y2 = box
    return SeatMapSpec.model_validate({"frame_size": list(frame_size), "seats": [
        {"id": "s1", "polygon": [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]}]})


@pytest.fixture(scope="module")
def models():
    # NanoDet alone with every phone from 0.3: these tests are about pixels and geometry,
    # not the phone finder's operating point (the phones eval measures that)
    return create_detectors(DetectionChoice(second_detector="", phone_threshold=0.3))


@pytest.fixture(scope="module")
def zidane():
    image = next(img for img in load_eval_set() if img.id == "zidane")
    main = cv2.imread(str(image.path))
    assert main.shape[:2] == (720, 1280)
    return image, cv2.resize(main, LORES, interpolation=cv2.INTER_AREA), main


def test_a_small_seat_is_cut_from_main_and_a_large_one_from_the_detection_stream(zidane):
    _, lores, main = zidane
    small = cut_seat((200, 20, 320, 140), lores, main, below_px=416)
    assert small.from_main                   # 120 px in lores: 359 x 360 real pixels in main
    assert np.array_equal(small.pixels, main[60:420, 600:959])
    back = box_to_frame((0, 0, 359, 360), small.offset, small.scale)
    assert np.allclose(back, (200, 20, 320, 140), atol=0.5)       # lores pixels again

    large = cut_seat((100, 0, 340, 240), lores, main, below_px=200)
    assert not large.from_main and np.array_equal(large.pixels, lores[0:240, 100:340])
    assert not cut_seat((200, 20, 320, 140), lores, main, below_px=0).from_main
    assert not cut_seat((200, 20, 320, 140), lores, None, below_px=416).from_main
    assert not cut_seat((200, 20, 320, 140), lores, lores.copy(), below_px=416).from_main


def test_faces_and_people_found_in_the_main_stream_come_back_in_lores_pixels(models, zidane):
    image, lores, main = zidane
    detector, faces = models
    zidane_box = next(o["box"] for o in image.objects if o["label"] == "person"
                      and o["box"][0] > 600)
    in_lores = [v / 3 for v in zidane_box]
    seats = SeatMap(square_seat(in_lores, LORES), *LORES)
    scheduler = LookScheduler(seats)
    job = scheduler.jobs[1]
    frame = StillStream(lores, main).read()
    look = prepare_look(job, frame, seats, scheduler, detector, faces, from_main_below_px=416)
    assert look.cut.from_main                      # the seat is ~240 px in lores
    dets, found = decode_look(infer_look(look, detector, faces), detector, faces)
    assert any(iou(d.box, in_lores) >= 0.5 for d in dets if d.label == "person")
    face_in_main = max(faces.detect(main), key=lambda f: f.box[0])     # Zidane's, on the right
    assert any(iou(f.box, [v / 3 for v in face_in_main.box]) >= 0.5 for f in found)
    assert all(f.yaw is not None for f in found)
    # the keypoints (the face embedder aligns by them) come back with the box
    mine = max(found, key=lambda f: iou(f.box, [v / 3 for v in face_in_main.box]))
    eyes = np.array(mine.keypoints[:2])
    width = mine.box[2] - mine.box[0]             # found apart in the cut and the main frame
    assert np.abs(eyes - np.array(face_in_main.keypoints[:2]) / 3).max() < 0.2 * width, eyes


@needs_phones_dev
@pytest.mark.parametrize("name", MAIN_ONLY_PHONES)
def test_the_pipeline_sees_a_phone_only_the_main_stream_shows(models, tmp_path, name):
    """A back-row phone (a 640x640 photo at 0.35x in a 1280x720 frame): the seat is 112 px
    in a 427x240 detection stream, cut from the main stream it is 336 px of real pixels."""
    detector, faces = models
    photo = cv2.resize(cv2.imread(str(PHONES_DEV / "images" / name)), None, fx=0.35, fy=0.35,
                       interpolation=cv2.INTER_AREA)
    main = np.full((720, 1280, 3), 128, np.uint8)
    h, w = photo.shape[:2]
    x0, y0 = (1280 - w) // 2, (720 - h) // 2
    main[y0:y0 + h, x0:x0 + w] = photo
    lores = cv2.resize(main, LORES, interpolation=cv2.INTER_AREA)
    seat_map = tmp_path / "seats.json"
    seat_map.write_text(square_seat((x0 / 3, y0 / 3, (x0 + w) / 3, (y0 + h) / 3), LORES)
                        .model_dump_json())

    def seat_objects(below_px: int | None) -> list[str]:
        stop = threading.Event()
        engine = SeatLooks()
        source = ResilientSource(lambda: StillStream(lores, main), wait=stop.wait,
                                 stop_at_end=True)
        pipeline = Pipeline(source, FrameRing(2, 1), SeatPlan(seat_map, tmp_path / "pushed"),
                            detector, faces, engine, Counters(), stop,
                            before_rules=lambda: None, on_events=lambda *_: None,
                            seat_from_main_below_px=below_px)
        pipeline.capture_loop()
        for _ in range(2):                         # the room, then the seat
            pipeline.prepare_step()
            pipeline.detect_step()
            pipeline.rules_step()
        [look] = engine.seat_looks
        return [label for label, _ in look.objects]

    assert "cell phone" in seat_objects(None)     # default: below the detector's input size
    assert "cell phone" not in seat_objects(0)    # 0: seats from the detection stream only


def test_the_threshold_is_a_validated_detection_setting(tmp_path):
    base = {"node": {"building": "b1", "room": "r1", "name": "n1"},
            "source": {"type": "folder", "path": str(tmp_path)}, "seat_map": "seats.json"}
    assert parse_config(base).detection.seat_from_main_below_px is None   # the input size
    zero = parse_config({**base, "detection": {"seat_from_main_below_px": 0}})
    assert zero.detection.seat_from_main_below_px == 0
    with pytest.raises(ConfigError, match="seat_from_main_below_px"):
        parse_config({**base, "detection": {"seat_from_main_below_px": -1}})
