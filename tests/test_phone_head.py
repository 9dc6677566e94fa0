"""The phone head on NanoDet's cell features: ``edge/models/phone_head.py`` and its trainer.

Real parts only: the shipped NanoDet int8 file through the real interpreter, the shipped
``phone_head.json``, and real photos (phones-dev from the shared data, skipped when absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.models import registry
from edge.models.manifest import MANIFEST_PATH, load_manifest, sha256_of
from edge.models.nanodet import PHONE, REMOTE, STRIDES, NanoDetDetector, logit
from edge.models.nms import iou
from edge.models.phone_head import PhoneHead, head_entry, load_phone_head
from kuzet.errors import ModelError
from kuzet_tools.models.evalset import EvalSetError, read_image
from kuzet_tools.models.phone_sets import SPLIT_PATH, load_phones_dev

MODELS = MANIFEST_PATH.parent
# a measure-part photo whose phone NanoDet's own score misses at 0.3 and the head finds
MEASURE_PHOTO = "d0093"


@pytest.fixture(scope="module")
def head() -> PhoneHead:
    return load_phone_head()


@pytest.fixture(scope="module")
def measure() -> dict:
    try:
        return {image.id: image for image in load_phones_dev("measure")}
    except EvalSetError as exc:
        pytest.skip(f"phones-dev is not here: {exc}")


def test_head_file_has_the_manifests_sha256_licence_and_provenance(head: PhoneHead) -> None:
    entry = head_entry()
    assert sha256_of(MODELS / entry["file"]) == entry["sha256"]
    assert all((MODELS / f).is_file() for f in entry["licence_files"])
    assert "CC BY 4.0" in entry["licence"]
    assert head.provenance["split_sha256"] == sha256_of(SPLIT_PATH)
    assert head.provenance["base_model_sha256"] == load_manifest()["nanodet-m-416-int8"].sha256
    assert 0 < head.threshold < 1


def test_a_changed_head_file_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(MANIFEST_PATH.read_text())
    spec = json.loads((MODELS / "phone_head.json").read_text())
    spec["threshold"] = 0.01
    (tmp_path / "phone_head.json").write_text(json.dumps(spec))
    with pytest.raises(ModelError, match=r"phone_head\.json is corrupt"):
        load_phone_head(manifest=manifest)


def test_the_heads_threshold_lands_on_the_detectors(head: PhoneHead, measure: dict) -> None:
    detector = registry.create_detector("nanodet-m-416-int8")
    image = read_image(measure[MEASURE_PHOTO])
    raw, features = detector.infer_features(detector.prepare(image))
    for k, stride in enumerate(STRIDES):
        cls = raw[2 * k][0]
        phone = logit(np.maximum(cls[:, PHONE], cls[:, REMOTE]))
        own = head.score(features[k], phone, stride)
        mapped = head.detector_score(features[k], phone, stride, 0.3)
        clear = np.abs(own - head.threshold) > 1e-4          # leave out float ties
        assert np.array_equal((own >= head.threshold)[clear], (mapped >= 0.3)[clear])
        assert np.array_equal(np.argsort(own, kind="stable"), np.argsort(mapped, kind="stable"))


def test_with_the_head_the_phone_is_found_and_remote_is_gone(head: PhoneHead,
                                                            measure: dict) -> None:
    image = measure[MEASURE_PHOTO]
    pixels = read_image(image)
    entry = load_manifest()["nanodet-m-416-int8"]
    plain = NanoDetDetector(entry.path, sha256=entry.sha256, score_threshold=0.3)
    with_head = NanoDetDetector(entry.path, sha256=entry.sha256, score_threshold=0.3,
                                phone_head=head)
    truth = np.array([o["box"] for o in image.objects], np.float32)

    def phones_found(dets: list) -> int:
        boxes = [d.box for d in dets if d.label in ("cell phone", "remote")]
        return sum(bool(iou(np.asarray(b, np.float32), truth).max() >= 0.5) for b in boxes)

    before, after = plain.detect(pixels), with_head.detect(pixels)
    assert phones_found(before) == 0 and phones_found(after) >= 1
    assert not any(d.label == "remote" for d in after)
    others = lambda dets: [d for d in dets if d.label not in ("cell phone", "remote")]  # noqa: E731
    assert others(after) == others(before)


def test_training_on_a_few_photos_runs_and_gives_the_same_bytes(tmp_path: Path,
                                                                measure: dict) -> None:
    from kuzet_tools.models.train_phone_head import run

    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    reports = [run(out, limit=4, k=2, steps=20, candidates=("logistic", "mlp-16"))
               for out in outs]
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert reports[0]["tune_cv"] == reports[1]["tune_cv"]
    trained = load_phone_head(outs[0])
    assert trained.kind in ("logistic", "mlp-16")
    assert trained.provenance["photos"] == 4 and "--limit 4" in trained.provenance["command"]


def test_the_factory_puts_the_head_on_the_phone_finders_nanodet_only_when_asked() -> None:
    from edge.models.factory import DetectionChoice, create_object_detector

    def nanodet(detector: object) -> NanoDetDetector:
        while not isinstance(detector, NanoDetDetector):
            detector = detector.detector
        return detector

    on = nanodet(create_object_detector(DetectionChoice(phone_head=True, phone_threshold=0.5)))
    off = nanodet(create_object_detector(DetectionChoice()))
    assert isinstance(on.phone_head, PhoneHead) and on.phone_head_at == 0.5
    assert off.phone_head is None
