"""One factory picks the detectors for the node, ``kuzet edge detect`` and the benchmarks."""

from __future__ import annotations

import pytest

from edge.config import DetectionSection
from edge.models.factory import (
    DetectionChoice,
    create_blur_detector,
    create_detectors,
    create_object_detector,
)
from tests.fakes.detector import ScriptedDetector, ScriptedFaceDetector


@pytest.mark.parametrize("phones, name", [
    ("off", "nanodet-m-416-int8"),
    ("remote", "nanodet-m-416-int8+ssdlite-mobilenet-v2+remote"),
    ("hands", "nanodet-m-416-int8+ssdlite-mobilenet-v2+hands"),
])
def test_the_phone_mode_picks_the_object_detector(phones, name):
    assert create_object_detector(DetectionSection(phones=phones)).name == name


def test_faces_off_gives_no_face_detector():
    detector, faces = create_detectors(DetectionChoice(phones="off", faces=False))
    assert detector.name == "nanodet-m-416-int8" and faces is None


def test_the_node_config_and_a_plain_choice_give_the_same_models():
    from_config = create_detectors(DetectionSection())
    from_choice = create_detectors(DetectionChoice())
    assert [d.name for d in from_config] == [d.name for d in from_choice] == [
        "nanodet-m-416-int8+ssdlite-mobilenet-v2+remote", "blazeface-full-range"]
    assert from_config[1].mesh is not None                # faces come with their yaw


def test_detectors_passed_in_are_used_and_only_the_missing_one_is_built():
    fake = ScriptedDetector()
    detector, faces = create_detectors(DetectionSection(), detector=fake)
    assert detector is fake and faces is not None and faces.name == "blazeface-full-range"
    fake_faces = ScriptedFaceDetector()
    assert create_detectors(DetectionSection(), detector=fake, face_detector=fake_faces) == (
        fake, fake_faces)
    assert create_detectors(DetectionSection(faces=False), detector=fake,
                            face_detector=fake_faces) == (fake, None)


def test_the_blur_detector_has_no_yaw():
    assert create_blur_detector(DetectionSection()).mesh is None


def test_an_unknown_phone_mode_is_refused():
    with pytest.raises(ValueError, match="phones must be one of off, remote, hands"):
        create_object_detector(DetectionChoice(phones="pocket"))  # type: ignore[arg-type]
