"""SSDLite MobileNetV2 (``edge/models/ssdlite.py``) and the pair with NanoDet
(``edge/models/pair.py``).

Real parts only: the shipped TFLite files through the real interpreter, the eval photos, and a
phones-dev photo from the shared data (skipped when absent).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import parse_config
from edge.models import registry
from edge.models.factory import DetectionChoice, create_object_detector
from edge.models.manifest import verify
from edge.models.nms import iou
from edge.models.pair import PairDetector
from edge.models.phones import PhoneAwareDetector, create_phone_detector
from edge.models.ssdlite import COLUMN_TO_LABEL, SSDLiteDetector
from kuzet.errors import ConfigError
from kuzet_tools.models.evalset import EvalSetError, read_image
from kuzet_tools.models.phone_sets import load_phones_dev

ROOT = Path(__file__).resolve().parents[1]
BUS = ROOT / "var" / "eval-images" / "bus.jpg"
# a measure-part photo whose one phone NanoDet misses at 0.3 and SSDLite finds
PAIR_PHOTO = "d0012"
SSD = "ssdlite-mobilenet-v2"


@pytest.fixture(scope="module")
def ssdlite() -> SSDLiteDetector:
    detector = registry.create_detector(SSD, 0.3)
    assert isinstance(detector, SSDLiteDetector)
    return detector


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    image = cv2.imread(str(BUS))
    assert image is not None
    return image


def test_coco91_columns_map_onto_the_80_labels() -> None:
    assert sorted(COLUMN_TO_LABEL[COLUMN_TO_LABEL >= 0]) == list(range(80))
    assert (COLUMN_TO_LABEL < 0).sum() == 10
    assert COLUMN_TO_LABEL[0] == 0                     # id 1: person
    assert COLUMN_TO_LABEL[76] == 67                   # id 77: cell phone
    assert COLUMN_TO_LABEL[74] == 65                   # id 75: remote


def test_ssdlite_finds_the_bus_and_its_passengers_in_image_pixels(
        ssdlite: SSDLiteDetector, bus: np.ndarray) -> None:
    found = ssdlite.detect(bus)
    h, w = bus.shape[:2]
    people = [d for d in found if d.label == "person" and d.score >= 0.5]
    assert len(people) >= 2
    assert any(d.label == "bus" and d.score >= 0.8 for d in found)
    assert all(0 <= d.box[0] < d.box[2] <= w and 0 <= d.box[1] < d.box[3] <= h for d in found)
    tallest = max(people, key=lambda d: d.box[3] - d.box[1])
    assert tallest.box[3] - tallest.box[1] > h / 3      # pixels, not 0..1
    scores = [d.score for d in found]
    assert scores == sorted(scores, reverse=True)


def test_pair_keeps_the_primarys_detections_and_adds_no_second_person(
        bus: np.ndarray) -> None:
    primary = registry.create_detector("nanodet-m-416-int8", 0.3)
    pair = PairDetector(primary, registry.create_detector(SSD, 0.3))
    assert pair.name == "nanodet-m-416-int8+ssdlite-mobilenet-v2"
    alone = primary.detect(bus)
    both = pair.detect(bus)
    assert [d for d in both if d.label != "cell phone"] == \
        [d for d in alone if d.label != "cell phone"]


def test_the_phone_finder_wraps_the_pair_where_its_detector_goes() -> None:
    finder = create_phone_detector(score_threshold=0.3, second_detector=SSD)
    assert isinstance(finder, PhoneAwareDetector)
    assert isinstance(finder.detector, PairDetector)
    assert finder.detector.second.score_threshold <= 0.3
    default = create_object_detector(DetectionChoice())      # the node's default: the pair,
    assert isinstance(default.detector, PairDetector)        # each with its own threshold
    assert default.detector.primary_phone_threshold == 0.5
    assert default.detector.second_threshold == 0.7
    alone = create_object_detector(DetectionChoice(second_detector=""))
    assert not isinstance(getattr(alone, "detector", None), PairDetector)


def test_the_pair_finds_a_phone_that_nanodet_misses() -> None:
    try:
        image = {i.id: i for i in load_phones_dev("measure")}[PAIR_PHOTO]
    except (EvalSetError, KeyError) as exc:
        pytest.skip(f"phones-dev is not here: {exc}")
    pixels = read_image(image)
    truth = np.array([o["box"] for o in image.objects], np.float32)

    def phones_found(detector: PhoneAwareDetector) -> int:
        boxes = [d.box for d in detector.detect(pixels) if d.label == "cell phone"]
        return sum(bool(iou(np.asarray(b, np.float32), truth).max() >= 0.5) for b in boxes)

    assert phones_found(create_phone_detector(score_threshold=0.3)) == 0
    assert phones_found(create_phone_detector(score_threshold=0.3, second_detector=SSD)) == 1


def node_config(**detection: object) -> dict:
    return {"node": {"building": "main", "room": "a101", "name": "cam1"},
            "source": {"type": "folder", "path": "/srv/stills"}, "seat_map": "seats.json",
            "detection": detection}


def test_node_config_takes_a_known_second_detector_only() -> None:
    assert parse_config(node_config(second_detector=SSD)).detection.second_detector == SSD
    assert parse_config(node_config()).detection.second_detector == SSD     # the default
    assert not parse_config(node_config(second_detector="")).detection.second_detector
    with pytest.raises(ConfigError, match="second_detector"):
        parse_config(node_config(second_detector="nanodet-m-416-fp16"))
    with pytest.raises(ConfigError, match="phones other than 'off'"):
        parse_config(node_config(second_detector=SSD, phones="off"))
    assert parse_config(node_config(phones="off")).detection.phones == "off"   # default: unused


def test_verify_passes_for_ssdlite() -> None:
    result = next(r for r in verify() if r.name == registry.DETECTORS[SSD])
    assert result.ok, result.error


def test_the_second_detector_runs_only_where_the_first_saw_something_phone_like() -> None:
    finder = create_phone_detector(score_threshold=0.3, second_detector=SSD, second_gate=0.1)
    pair = finder.detector
    finder.detect(np.full((480, 640, 3), 127, np.uint8))        # a grey wall: nothing
    assert pair.second_runs == 0
    try:
        image = {i.id: i for i in load_phones_dev("measure")}[PAIR_PHOTO]
    except (EvalSetError, KeyError) as exc:
        pytest.skip(f"phones-dev is not here: {exc}")
    photo = read_image(image)
    assert pair.detector.best_score(pair.detector.infer(pair.detector.prepare(photo)),
                                    frozenset({"cell phone", "remote"})) >= 0.1
    finder.detect(photo)
    assert pair.second_runs == 1


def test_the_second_detector_can_be_capped_per_sweep() -> None:
    finder = create_phone_detector(score_threshold=0.3, second_detector=SSD)
    pair = finder.detector
    pair.max_per_sweep = 1
    wall = np.full((480, 640, 3), 127, np.uint8)
    finder.detect(wall)
    finder.detect(wall)
    assert (pair.second_runs, pair.second_skipped) == (1, 1)
    finder.new_sweep()                                   # the phone finder passes it on
    finder.detect(wall)
    assert pair.second_runs == 2
