"""The optional CenterNet-MobileNetV3 COCO detector on the real eval photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.models import registry
from edge.models.centernet import CenterNetDetector
from edge.models.manifest import load_manifest
from edge.models.nms import iou
from kuzet_tools.models.evalset import EvalSetError, load_eval_set

NAME = "centernet-mb3-512"


@pytest.fixture(scope="module")
def detector() -> CenterNetDetector:
    return registry.create_detector(NAME, score_threshold=0.35)


@pytest.fixture(scope="module")
def bus() -> tuple[np.ndarray, list[dict]]:
    try:
        image = next(i for i in load_eval_set() if i.id == "bus")
    except EvalSetError as exc:
        pytest.fail(f"eval images could not be obtained: {exc}")
    return cv2.imread(str(image.path)), image.objects


def best_iou(truth: list[float], boxes: list[tuple[float, ...]]) -> float:
    return float(iou(np.array(truth, float), np.array(boxes).reshape(-1, 4)).max()) \
        if boxes else 0.0


def test_it_is_a_registered_detector_but_not_the_default(detector: CenterNetDetector) -> None:
    assert isinstance(detector, CenterNetDetector) and detector.input_size == 512
    assert NAME in registry.DETECTORS and registry.DEFAULT_DETECTOR != NAME


def test_people_and_the_bus_are_found_on_the_bus_photo(detector: CenterNetDetector,
                                                       bus: tuple) -> None:
    image, truth = bus
    found = detector.detect(image)
    people = [d.box for d in found if d.label == "person"]
    matched = [t for t in truth if t["label"] == "person" and best_iou(t["box"], people) >= 0.5]
    assert len(matched) >= 3
    assert best_iou(next(t["box"] for t in truth if t["label"] == "bus"),
                    [d.box for d in found if d.label == "bus"]) >= 0.5
    h, w = image.shape[:2]
    assert all(0 <= d.box[0] < d.box[2] <= w and 0 <= d.box[1] < d.box[3] <= h for d in found)


def test_one_box_per_person_after_nms(detector: CenterNetDetector, bus: tuple) -> None:
    people = [d for d in registry.create_detector(NAME, score_threshold=0.2).detect(bus[0])
              if d.label == "person"]
    boxes = np.array([d.box for d in people])
    for i, box in enumerate(boxes):
        assert (iou(box, np.delete(boxes, i, axis=0)) < 0.5).all()


def test_boxes_are_in_the_pixels_of_the_image_passed_in(detector: CenterNetDetector,
                                                        bus: tuple) -> None:
    image = bus[0]
    full = detector.detect(image)
    half = detector.detect(cv2.resize(image, None, fx=0.5, fy=0.5))
    person = max((d for d in full if d.label == "person"), key=lambda d: d.score)
    assert best_iou([v / 2 for v in person.box],
                    [d.box for d in half if d.label == "person"]) >= 0.8


def test_staged_calls_and_a_blank_frame(detector: CenterNetDetector, bus: tuple) -> None:
    prepared = detector.prepare(bus[0])
    assert prepared.tensor.shape == (1, 512, 512, 3) and prepared.tensor.dtype == np.float32
    assert prepared.tensor.max() > 1.0                      # pixels 0..255, not normalised
    assert detector.decode(detector.infer(prepared), prepared) == detector.detect(bus[0])
    assert detector.detect(np.full((300, 500, 3), 127, np.uint8)) == []


def test_its_licence_is_recorded_as_not_stated() -> None:
    entry = load_manifest()["centernet-mb3-512-fp16"]
    assert entry.licence.startswith("NOT STATED")
    assert "LICENSES/CenterNet-MB3-NOTICE" in entry.licence_files
