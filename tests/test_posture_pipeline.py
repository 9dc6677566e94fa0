"""The posture cue wired into the seat look: with ``[detection] posture`` on, the real MoveNet
looks at each seat's pixels (the same cut the detector gets, from the main stream when the
seat is small), its keypoints come back in detection-stream pixels, and the look carries the
posture score; with it off (the default) no pose model is built and the look carries None."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture.supervisor import ResilientSource
from edge.config import parse_config
from edge.evidence import FrameRing
from edge.models.factory import DetectionChoice, create_detectors
from edge.models.pose import Pose
from edge.models.registry import create_pose_estimator
from edge.pipeline import Pipeline, decode_pose, infer_look, prepare_look
from edge.rules import SeatLook
from edge.schedule import LookScheduler
from edge.seat_cut import SeatCut, box_to_frame, pose_to_frame
from edge.seat_plan import SeatPlan
from edge.seats import SeatMap, SeatMapSpec
from edge.stats import Counters
from kuzet.errors import ConfigError
from kuzet_tools.models.evalset import load_eval_set
from tests.fakes.still_stream import SeatLooks, StillStream
from tests.support.scripted_node import nothing_seen, scripted_config, scripted_node
from tests.support.wait import wait_until

LORES = (427, 240)            # a third of zidane.jpg's 1280x720


def seat_around(box, frame_size) -> SeatMapSpec:
    x1, y1, x2, y2 = box
    return SeatMapSpec.model_validate({"frame_size": list(frame_size), "seats": [
        {"id": "s1", "polygon": [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]}]})


@pytest.fixture(scope="module")
def models():
    return create_detectors(DetectionChoice())          # the node's defaults


@pytest.fixture(scope="module")
def movenet():
    return create_pose_estimator()


def photo(name: str) -> tuple[np.ndarray, list]:
    image = next(img for img in load_eval_set() if img.id == name)
    return cv2.imread(str(image.path)), [o["box"] for o in image.objects
                                         if o["label"] == "person"]


@pytest.fixture(scope="module")
def zidane():
    """zidane.jpg as the main stream, a third of it as the detection stream, and the seat
    drawn around Zidane (standing, upright) in detection-stream pixels."""
    main, persons = photo("zidane")
    box = next(b for b in persons if b[0] > 600)
    return cv2.resize(main, LORES, interpolation=cv2.INTER_AREA), main, [v / 3 for v in box]


def seat_looks(tmp_path: Path, lores, main, seat_box, models, pose_estimator) -> list[SeatLook]:
    """The seat looks of one real Pipeline run: the room, then the seat."""
    detector, faces = models
    seat_map = tmp_path / "seats.json"
    seat_map.write_text(seat_around(seat_box, lores.shape[1::-1]).model_dump_json())
    stop = threading.Event()
    engine = SeatLooks()
    source = ResilientSource(lambda: StillStream(lores, main), wait=stop.wait, stop_at_end=True)
    pipeline = Pipeline(source, FrameRing(2, 1), SeatPlan(seat_map, tmp_path / "pushed"),
                        detector, faces, engine, Counters(), stop, before_rules=lambda: None,
                        on_events=lambda *_: None, pose_estimator=pose_estimator)
    pipeline.capture_loop()
    for _ in range(2):
        pipeline.prepare_step()
        pipeline.detect_step()
        pipeline.rules_step()
    return engine.seat_looks


def test_keypoints_found_in_a_cut_from_main_come_back_in_detection_stream_pixels():
    cut = SeatCut(np.zeros((360, 359, 3), np.uint8), offset=(200.0, 20.0), scale=(2.99, 3.0))
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[0] = (0, 0, 0.9)                 # the cut's top-left corner
    keypoints[5] = (359, 360, 0.7)             # its bottom-right corner
    keypoints[9] = (149.5, 90, 0.1)
    back = pose_to_frame(Pose(keypoints), cut).keypoints
    assert np.allclose(back[0], (200, 20, 0.9))
    assert np.allclose(back[5], (200 + 359 / 2.99, 140, 0.7))
    assert np.allclose(back[9], (250, 50, 0.1))           # the score is unchanged
    assert np.allclose(back[5, :2], box_to_frame((0, 0, 359, 360), cut.offset, cut.scale)[2:])
    # a cut from the detection stream itself: only the offset
    assert np.allclose(pose_to_frame(Pose(keypoints), SeatCut(cut.pixels, (10.0, 5.0)))
                       .keypoints[5], (369, 365, 0.7))


def test_movenet_on_a_seat_cut_from_main_puts_the_keypoints_on_the_person(
        models, movenet, zidane):
    lores, main, seat_box = zidane
    detector, faces = models
    seats = SeatMap(seat_around(seat_box, LORES), *LORES)
    scheduler = LookScheduler(seats)
    frame = StillStream(lores, main).read()
    look = prepare_look(scheduler.jobs[1], frame, seats, scheduler, detector, faces,
                        from_main_below_px=416, pose_estimator=movenet)
    assert look.cut.from_main and look.pose is not None
    pose = decode_pose(infer_look(look, detector, faces, movenet), movenet)
    # the same person seen by MoveNet on the main picture's own crop, scaled to lores
    x1, y1, x2, y2 = look.job.seat.crop
    direct = movenet.estimate(main[y1 * 3:y2 * 3, x1 * 3:x2 * 3]).keypoints
    nose, shoulder = pose.point("nose"), pose.point("left_shoulder")
    assert nose[2] > 0.3 and shoulder[2] > 0.3
    assert np.allclose(pose.keypoints[[0, 5, 6], :2],
                       direct[[0, 5, 6], :2] / 3 + (x1, y1), atol=2.0)
    sx1, sy1, sx2, sy2 = seat_box
    assert sx1 <= nose[0] <= sx2 and sy1 <= nose[1] <= sy2


def test_an_upright_person_is_not_the_cue(tmp_path, models, movenet, zidane):
    lores, main, seat_box = zidane
    [look] = seat_looks(tmp_path, lores, main, seat_box, models, movenet)
    assert look.persons                        # Zidane is seen at his seat
    assert look.posture == 0.0                 # a confident pose, head upright: not the cue


@pytest.fixture(scope="module")
def bus():
    """bus.jpg (810x1080) as the main stream, half of it as the detection stream, and the
    boxes of its four people in detection-stream pixels, from left to right (the first is
    cut by the picture's edge)."""
    main, persons = photo("bus")
    lores = cv2.resize(main, (405, 540), interpolation=cv2.INTER_AREA)
    return lores, main, sorted([v / 2 for v in box] for box in persons)


def test_a_standing_man_with_his_arms_down_is_not_the_cue(tmp_path, models, movenet, bus):
    lores, main, people = bus
    middle = people[2]                          # the man in the middle, upright, elbows down
    [look] = seat_looks(tmp_path, lores, main, middle, models, movenet)
    assert look.persons and look.posture == 0.0


def test_a_neighbours_pose_in_the_seats_crop_is_not_the_seats(tmp_path, models, movenet, bus):
    """The left man's seat crop also shows the man in the middle, and MoveNet (one person
    per crop) picks him: his shoulders are centred outside the seat, so no posture."""
    lores, main, people = bus
    left, middle = people[1], people[2]
    detector, faces = models
    seats = SeatMap(seat_around(left, lores.shape[1::-1]), *lores.shape[1::-1])
    scheduler = LookScheduler(seats)
    look = prepare_look(scheduler.jobs[1], StillStream(lores, main).read(), seats, scheduler,
                        detector, faces, from_main_below_px=416, pose_estimator=movenet)
    pose = decode_pose(infer_look(look, detector, faces, movenet), movenet)
    x = (pose.point("left_shoulder")[0] + pose.point("right_shoulder")[0]) / 2
    assert middle[0] < x < middle[2] and not left[0] < x < left[2]
    [seat_look] = seat_looks(tmp_path, lores, main, left, models, movenet)
    assert seat_look.persons and seat_look.posture is None


def test_without_the_setting_the_node_builds_no_pose_model_and_looks_carry_none(
        tmp_path, models, zidane):
    assert parse_config(_base(tmp_path)).detection.posture is False
    node = scripted_node(scripted_config(tmp_path))
    assert node.pose_estimator is None and node.pipeline.pose_estimator is None
    lores, main, seat_box = zidane
    [look] = seat_looks(tmp_path, lores, main, seat_box, models, None)
    assert look.persons and look.posture is None


def test_with_the_setting_the_running_node_looks_at_poses_and_says_so(tmp_path):
    cfg = scripted_config(tmp_path, extra={"detection": {"posture": True, "num_threads": 1}})
    node = scripted_node(cfg, nothing_seen())
    assert node.pose_estimator is not None and node.pose_estimator.name == "movenet-lightning"
    assert node.pipeline.pose_estimator is node.pose_estimator
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    fake = node.publisher
    try:
        assert wait_until(lambda: fake.of_kind("heartbeat")
                          and fake.of_kind("heartbeat")[-1].fps > 0, 20)
        beat = fake.of_kind("heartbeat")[-1]
        assert beat.model_versions["pose"] == "movenet-lightning"
        assert node.stats.looks > 2 and node.warnings.recent() == []   # no thread tripped
    finally:
        node.stop_event.set()
        runner.join(15)
    assert not runner.is_alive()


def test_the_setting_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="posture"):
        parse_config({**_base(tmp_path), "detection": {"posture": "sometimes"}})


def _base(tmp_path: Path) -> dict:
    return {"node": {"building": "b1", "room": "r1", "name": "n1"},
            "source": {"type": "folder", "path": str(tmp_path)}, "seat_map": "seats.json"}
