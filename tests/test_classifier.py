"""The ImageNet crop classifier (EfficientNet-Lite0) on crops of the real eval photos."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edge.models import registry
from edge.models.classifier import ImageClassifier
from edge.models.manifest import MANIFEST_PATH, load_manifest
from kuzet.errors import ModelError
from kuzet_tools.models.evalset import EvalSetError, load_eval_set, read_image


@pytest.fixture(scope="module")
def classifier() -> ImageClassifier:
    return registry.create_classifier()


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    try:
        return {image.id: read_image(image) for image in load_eval_set()}
    except EvalSetError as exc:
        pytest.fail(f"eval images could not be obtained: {exc}")


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    return image[y1:y2, x1:x2]


def top5(classifier: ImageClassifier, image: np.ndarray) -> list[str]:
    return [label for label, _ in classifier.top(classifier.classify(image), 5)]


@pytest.mark.parametrize("image_id, box, label", [
    ("messi", (336, 288, 390, 337), "soccer ball"),
    ("zidane", (975, 290, 1045, 425), "Windsor tie"),
    ("orange", (25, 45, 467, 502), "orange"),
    ("coffee", (170, 18, 415, 255), "espresso"),
    ("chelsea", (0, 0, 451, 300), "Egyptian cat"),
])
def test_crops_of_real_photos_get_their_class_first(classifier: ImageClassifier,
                                                    photos: dict, image_id: str,
                                                    box: tuple[int, int, int, int],
                                                    label: str) -> None:
    probs = classifier.classify(crop(photos[image_id], box))
    assert int(np.argmax(probs)) == classifier.index(label)
    assert probs[classifier.index(label)] > 0.5


def test_the_cameramans_camera_is_a_camera_on_a_tripod(classifier: ImageClassifier,
                                                       photos: dict) -> None:
    found = top5(classifier, crop(photos["camera"], (225, 110, 355, 235)))
    assert "tripod" in found
    assert {"reflex camera", "Polaroid camera"} & set(found)


def test_probabilities_are_1000_floats_summing_to_one(classifier: ImageClassifier,
                                                      photos: dict) -> None:
    probs = classifier.classify(photos["dog"])
    assert probs.shape == (1000,) and probs.dtype == np.float32
    assert probs.sum() == pytest.approx(1.0, abs=1e-4) and probs.min() >= 0
    assert classifier.top(probs, 1)[0][0] == "Pekinese"


def test_the_image_is_read_as_bgr(classifier: ImageClassifier, photos: dict) -> None:
    orange = photos["orange"]
    as_bgr = classifier.classify(orange)[classifier.index("orange")]
    swapped = classifier.classify(np.ascontiguousarray(orange[:, :, ::-1]))
    assert as_bgr > 0.8 and swapped[classifier.index("orange")] < 0.2


def test_staged_calls_give_what_classify_gives(classifier: ImageClassifier,
                                               photos: dict) -> None:
    image = crop(photos["coffee"], (170, 18, 415, 255))
    prepared = classifier.prepare(image)
    assert prepared.tensor.shape == (1, 224, 224, 3) and prepared.tensor.dtype == np.uint8
    raw = classifier.infer(prepared)
    np.testing.assert_array_equal(classifier.decode(raw, prepared), classifier.classify(image))


def test_labels_are_the_ones_the_model_embeds(classifier: ImageClassifier) -> None:
    with zipfile.ZipFile(classifier.path) as zf:
        embedded = zf.read("labels_without_background.txt").decode().split()
    assert len(classifier.labels) == 1000
    assert " ".join(classifier.labels).split() == embedded
    assert classifier.index("cellular telephone") == 487


def test_unknown_class_and_classifier_are_errors(classifier: ImageClassifier) -> None:
    with pytest.raises(ModelError, match="no class 'smartphone'"):
        classifier.index("smartphone")
    with pytest.raises(ModelError, match=r"unknown classifier 'resnet'; valid: efficientnet"):
        registry.create_classifier("resnet")


def test_corrupt_labels_file_is_an_error_naming_it(tmp_path: Path) -> None:
    entry = load_manifest()["efficientnet-lite0"]
    shutil.copy(entry.path, tmp_path / entry.file)
    shutil.copy(MANIFEST_PATH, tmp_path / "manifest.json")
    labels = MANIFEST_PATH.parent / "efficientnet_lite0_labels.txt"
    (tmp_path / labels.name).write_text(labels.read_text().replace("tench", "trench"))
    with pytest.raises(ModelError, match=r"efficientnet_lite0_labels\.txt is corrupt"):
        registry.create_classifier(manifest=tmp_path / "manifest.json")
