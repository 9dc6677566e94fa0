"""The eval's matching rules and the eval set's loading (kuzet_tools/models/: evaluate,
evalset)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from edge.models.nms import nms
from kuzet_tools.models.evalset import LABELS_PATH, EvalSetError, load_eval_set
from kuzet_tools.models.evaluate import ClassCounts, match

TRUTH = [{"label": "person", "box": [0, 0, 100, 100]},
         {"label": ["car", "truck"], "box": [200, 0, 300, 100]}]


@pytest.mark.parametrize("found, ignore, expected", [
    # one good hit each
    ([("person", 0.9, (5, 5, 100, 100)), ("truck", 0.8, (200, 0, 300, 90))], [],
     {"person": (1, 0, 1), "car": (1, 0, 1)}),
    # a duplicate of a matched person is a false positive
    ([("person", 0.9, (0, 0, 100, 100)), ("person", 0.5, (2, 2, 100, 100))], [],
     {"person": (1, 1, 1), "car": (0, 0, 1)}),
    # the wrong class at the right place: a miss and a false positive
    ([("dog", 0.9, (0, 0, 100, 100))], [],
     {"person": (0, 0, 1), "car": (0, 0, 1), "dog": (0, 1, 0)}),
    # IoU below 0.5 does not match
    ([("person", 0.9, (50, 50, 150, 150))], [],
     {"person": (0, 1, 1), "car": (0, 0, 1)}),
    # an unmatched detection centred in an ignore box is not counted
    ([("person", 0.9, (400, 400, 420, 440))], [[390, 390, 500, 500]],
     {"person": (0, 0, 1), "car": (0, 0, 1)}),
])
def test_match(found: list, ignore: list, expected: dict) -> None:
    counts: dict[str, ClassCounts] = defaultdict(ClassCounts)
    match(found, TRUTH, ignore, 0.5, counts)
    assert {k: (c.tp, c.fp, c.n) for k, c in counts.items()} == expected


def test_class_counts_report_none_when_undefined() -> None:
    assert ClassCounts(tp=0, fp=0, n=0).as_dict()["precision"] is None
    assert ClassCounts(tp=3, fp=1, n=4).as_dict() == {
        "precision": 0.75, "recall": 0.75, "n": 4, "tp": 3, "fp": 1}


def test_nms_keeps_classes_apart() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0]
    assert nms(boxes, scores, 0.5, classes=np.array([0, 0, 1])).tolist() == [0, 2]


def test_labels_are_well_formed() -> None:
    spec = json.loads(LABELS_PATH.read_text())
    ids = [image["id"] for image in spec["images"]]
    assert len(ids) == len(set(ids))
    for image in spec["images"]:
        assert len(image["sha256"]) == 64
        for item in image["objects"] + image["faces"] + [{"box": b} for b in image["ignore"]]:
            x1, y1, x2, y2 = item["box"]
            assert x1 < x2 and y1 < y2, (image["id"], item)


def test_missing_image_without_fetching_names_it(tmp_path: Path) -> None:
    with pytest.raises(EvalSetError, match=r"eval image bus is not in"):
        load_eval_set(dest=tmp_path, fetch=False)


def test_changed_source_is_an_error(tmp_path: Path) -> None:
    spec = json.loads(LABELS_PATH.read_text())
    local = next(i for i in spec["images"] if i["source"]["kind"] == "opencv-doc")
    spec["images"] = [dict(local, sha256="0" * 64)]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(spec))
    with pytest.raises(EvalSetError, match=r"expected 0{64}"):
        load_eval_set(labels, dest=tmp_path / "cache")
