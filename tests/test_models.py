"""Model files, decoders and accuracy: ``edge/models``.

The eval images are obtained from packages by ``kuzet_tools.models.evalset`` (pip download of the
ultralytics and scikit-image wheels, Debian's opencv-doc); when they cannot be obtained the
tests that need them fail with the reason.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.models import registry
from edge.models.base import Detector
from edge.models.blazeface import BlazeFaceDetector
from edge.models.classifier import ImageClassifier
from edge.models.facemesh import FaceMesh
from edge.models.manifest import MANIFEST_PATH, load_manifest, verify
from edge.models.nanodet import NanoDetDetector
from edge.models.nms import iou
from edge.models.pose import PoseEstimator
from edge.models.ssdlite import SSDLiteDetector
from kuzet.errors import ModelError
from kuzet_tools.cli import main
from kuzet_tools.models.evalset import EvalSetError, load_eval_set, read_image

MODELS = MANIFEST_PATH.parent


@pytest.fixture(scope="module")
def eval_images() -> dict:
    try:
        return {image.id: image for image in load_eval_set()}
    except EvalSetError as exc:
        pytest.fail(f"eval images could not be obtained: {exc}")


@pytest.fixture(scope="module", params=sorted(registry.DETECTORS))
def detector(request: pytest.FixtureRequest) -> Detector:
    return registry.create_detector(request.param)


@pytest.fixture(scope="module")
def face_detector() -> BlazeFaceDetector:
    return registry.create_face_detector()


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A copy of the manifest and model files in a temp dir, free to break."""
    for entry in load_manifest().values():
        shutil.copy(entry.path, tmp_path / entry.file)
    shutil.copy(MANIFEST_PATH, tmp_path / "manifest.json")
    return tmp_path / "manifest.json"


# ---- files, manifest, errors ----------------------------------------------------------------

def test_verify_passes_for_every_model() -> None:
    results = verify()
    assert {r.name for r in results} == {
        *registry.DETECTORS.values(), *registry.FACE_DETECTORS.values(), registry.FACE_MESH,
        "palm-detection-lite", *registry.CLASSIFIERS.values(), *registry.POSE_ESTIMATORS.values(),
        *registry.FACE_EMBEDDERS.values()}
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]


def test_model_files_are_under_40_mib_with_licences() -> None:
    entries = load_manifest().values()
    shipped = [p for p in MODELS.iterdir() if p.suffix == ".tflite"]
    assert sorted(p.name for p in shipped) == sorted(e.file for e in entries)  # none unlisted
    assert sum(p.stat().st_size for p in shipped) < 40 * 2**20    # decision 45
    for entry in entries:
        assert entry.path.stat().st_size == entry.size
        for licence in entry.licence_files:
            assert (MODELS / licence).is_file(), licence


@pytest.mark.parametrize("name, cls", [
    ("nanodet-m-416-int8", NanoDetDetector), ("nanodet-m-416-fp16", NanoDetDetector),
    ("ssdlite-mobilenet-v2-coco-fp16", SSDLiteDetector), ("efficientnet-lite0", ImageClassifier),
    ("movenet-lightning-fp16", PoseEstimator),
    ("blazeface-full-range", BlazeFaceDetector), ("face-mesh", FaceMesh),
])
def test_manifest_input_shape_is_what_the_decoder_expects(name: str, cls: type) -> None:
    assert load_manifest()[name].input_shape == cls.INPUT_SHAPE


def test_missing_file_is_an_error_naming_it(model_copy: Path) -> None:
    (model_copy.parent / "nanodet_m_416_int8.tflite").unlink()
    with pytest.raises(ModelError, match=r"nanodet_m_416_int8\.tflite is missing"):
        registry.create_detector("nanodet-m-416-int8", manifest=model_copy)
    failed = [r for r in verify(model_copy) if not r.ok]
    assert [r.name for r in failed] == ["nanodet-m-416-int8"]
    assert "nanodet_m_416_int8.tflite is missing" in failed[0].error


def test_corrupt_file_is_an_error_naming_it_and_the_expected_sha(model_copy: Path) -> None:
    path = model_copy.parent / "face_landmark.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    expected = load_manifest()["face-mesh"].sha256
    with pytest.raises(ModelError, match=rf"face_landmark\.tflite is corrupt.*expected {expected}"):
        registry.create_face_detector(manifest=model_copy)
    assert not next(r for r in verify(model_copy) if r.name == "face-mesh").sha256_ok


def test_truncated_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.tflite"
    path.write_bytes((MODELS / "nanodet_m_416_int8.tflite").read_bytes()[:5000])
    with pytest.raises(ModelError, match=r"broken\.tflite is corrupt or not a TFLite model"):
        NanoDetDetector(path)


def test_wrong_input_shape_is_an_error_naming_file_and_expectation() -> None:
    with pytest.raises(ModelError, match=r"face_landmark\.tflite has input shape "
                       r"\[1, 192, 192, 3\], expected \[1, 3, 416, 416\]"):
        NanoDetDetector(MODELS / "face_landmark.tflite")


def test_verify_reports_an_input_shape_other_than_the_manifests(model_copy: Path) -> None:
    spec = json.loads(model_copy.read_text())
    spec["models"][0]["input"]["shape"] = [1, 3, 320, 320]
    model_copy.write_text(json.dumps(spec))
    result = verify(model_copy)[0]
    assert not result.ok and result.sha256_ok and result.loads and not result.input_shape_ok
    assert "expected [1, 3, 320, 320]" in result.error


@pytest.mark.parametrize("factory", [registry.create_detector, registry.create_face_detector])
def test_unknown_name_lists_the_valid_ones(factory: Callable[[str], object]) -> None:
    with pytest.raises(ModelError, match=r"unknown .*'yolo'; valid: "):
        factory("yolo")


def test_no_runtime_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from edge.models.runtime import make_interpreter
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(ModelError, match="no TFLite runtime"):
        make_interpreter(MODELS / "face_landmark.tflite")


# ---- detectors on real photos ---------------------------------------------------------------

def _matches(found: list, truth: list[dict], label: str, min_iou: float = 0.5) -> int:
    boxes = np.array([f.box for f in found if getattr(f, "label", label) == label]).reshape(-1, 4)
    hits = 0
    for t in truth:
        if t.get("label", label) == label and len(boxes) and \
                iou(np.array(t["box"], float), boxes).max() >= min_iou:
            hits += 1
    return hits


@pytest.mark.parametrize("image_id, people", [("bus", 2), ("zidane", 2), ("astronaut", 1),
                                              ("vtest-300", 6)])
def test_detector_finds_people(detector: Detector, eval_images: dict, image_id: str,
                               people: int) -> None:
    image = eval_images[image_id]
    found = detector.detect(read_image(image))
    assert _matches(found, image.objects, "person") >= people
    h, w = read_image(image).shape[:2]
    assert all(0 <= d.box[0] < d.box[2] <= w and 0 <= d.box[1] < d.box[3] <= h for d in found)


def test_detector_finds_the_bus_and_nothing_in_a_blank_frame(detector: Detector,
                                                             eval_images: dict) -> None:
    assert detector.input_size == {"nanodet": 416, "ssdlite": 300}[detector.name.split("-")[0]]
    assert _matches(detector.detect(read_image(eval_images["bus"])),
                    eval_images["bus"].objects, "bus") == 1
    assert detector.detect(np.full((300, 500, 3), 127, np.uint8)) == []


def test_faces_and_yaw_sign(face_detector: BlazeFaceDetector, eval_images: dict) -> None:
    astronaut = face_detector.detect(read_image(eval_images["astronaut"]))
    assert len(astronaut) == 1 and abs(astronaut[0].yaw) < 15
    zidane_img = read_image(eval_images["zidane"])
    faces = face_detector.detect(zidane_img)
    assert _matches(faces, eval_images["zidane"].faces, "face", 0.3) == 2
    # Zidane (centre of the image) shouts towards the image's right: yaw > 0.
    zidane = max(faces, key=lambda f: iou(np.array(f.box), np.array([[560, 285, 670, 405]]))[0])
    assert zidane.yaw > 30
    flipped = face_detector.detect(cv2.flip(zidane_img, 1))
    mirror = max(flipped, key=lambda f: iou(np.array(f.box),
                                            np.array([[1280 - 670, 285, 1280 - 560, 405]]))[0])
    assert mirror.yaw < -30


# ---- the eval: floors the models really reach (docs/models.md has the figures) -------------

FLOORS = {  # class: (precision, recall)
    "person": (0.75, 0.9),
    "face": (0.85, 0.85),
    "all_objects": (0.6, 0.8),
}


@pytest.mark.parametrize("name", sorted(registry.DETECTORS))
def test_eval_reaches_the_floors(name: str, eval_images: dict,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "eval", "--json", "--detector", name]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == len(eval_images)
    rows = {**report["per_class"], "all_objects": report["all_objects"]}
    assert rows["person"]["n"] >= 20 and rows["face"]["n"] >= 8
    for cls, (precision, recall) in FLOORS.items():
        assert rows[cls]["precision"] >= precision, (cls, rows[cls])
        assert rows[cls]["recall"] >= recall, (cls, rows[cls])
    faces = report["face_verify"]                  # the 1:1 match's figure, with its n
    assert faces["same_pairs"] >= 100 and faces["tar_at_far_1pct"] >= 0.9


def test_verify_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and len(report["models"]) == len(load_manifest())


def test_verify_command_fails_on_a_broken_model(model_copy: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (model_copy.parent / "face_detection_full_range_sparse.tflite").write_bytes(b"nope")
    assert main(["models", "verify", "--manifest", str(model_copy)]) == 1
    assert "FAIL blazeface-full-range" in capsys.readouterr().out
