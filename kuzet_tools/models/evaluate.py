"""Precision and recall of the detectors on the labelled eval set (``kuzet models eval``).

Matching is greedy, best score first: a detection is a true positive when it overlaps a
still-unmatched label of an acceptable class with IoU at least ``match_iou`` (0.5 for objects,
0.3 for faces, whose small boxes are drawn less tightly by hand and by the model). A detection
that matches nothing is a false positive unless its centre lies in one of the image's
``ignore`` boxes (crowds, a driver behind glass, heads seen from behind).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from edge.models.base import Detector, FaceDetector
from edge.models.nms import iou
from kuzet_tools.models.evalset import EvalImage, read_image

FACE = "face"


@dataclass
class ClassCounts:
    """True positives, false positives and labelled instances (``n``) of one class."""

    tp: int = 0
    fp: int = 0
    n: int = 0

    def add(self, other: ClassCounts) -> None:
        """Add ``other``'s counts to these."""
        self.tp, self.fp, self.n = self.tp + other.tp, self.fp + other.fp, self.n + other.n

    def as_dict(self) -> dict:
        found = self.tp + self.fp
        return {
            "precision": round(self.tp / found, 3) if found else None,
            "recall": round(self.tp / self.n, 3) if self.n else None,
            "n": self.n, "tp": self.tp, "fp": self.fp,
        }


@dataclass
class EvalResult:
    """Counts per class and timings; ``as_dict`` is what ``kuzet models eval --json`` prints."""

    detector: str
    face_detector: str
    counts: dict[str, ClassCounts] = field(default_factory=lambda: defaultdict(ClassCounts))
    detect_ms: list[float] = field(default_factory=list)
    face_ms: list[float] = field(default_factory=list)
    images: int = 0

    def as_dict(self) -> dict:
        objects = ClassCounts()
        for name, c in self.counts.items():
            if name != FACE:
                objects.add(c)
        return {
            "detector": self.detector,
            "face_detector": self.face_detector,
            "images": self.images,
            "per_class": {k: self.counts[k].as_dict() for k in sorted(self.counts)},
            "all_objects": objects.as_dict(),
            "ms_per_image": {
                "detect": round(float(np.median(self.detect_ms)), 1) if self.detect_ms else None,
                "faces": round(float(np.median(self.face_ms)), 1) if self.face_ms else None,
            },
        }


def _labels(label: str | list[str]) -> list[str]:
    return [label] if isinstance(label, str) else list(label)


def match(found: list[tuple[str, float, tuple]], truth: list[dict], ignore: list[list[float]],
          min_iou: float, counts: dict[str, ClassCounts]) -> None:
    """Add one image's matches to ``counts``; ``found`` is ``(label, score, box)`` tuples and
    ``truth`` is ``{"label": name or [names], "box": [x1, y1, x2, y2]}`` dicts."""
    truth_boxes = np.array([t["box"] for t in truth], dtype=np.float32).reshape(-1, 4)
    truth_labels = [_labels(t["label"]) for t in truth]
    for names in truth_labels:
        counts[names[0]].n += 1
    used = np.zeros(len(truth), dtype=bool)
    for label, _, box in sorted(found, key=lambda f: -f[1]):
        box_arr = np.asarray(box, dtype=np.float32)
        overlaps = iou(box_arr, truth_boxes) if len(truth) else np.zeros(0)
        best, best_iou = -1, min_iou
        for i, value in enumerate(overlaps):
            if not used[i] and label in truth_labels[i] and value >= best_iou:
                best, best_iou = i, value
        if best >= 0:
            used[best] = True
            counts[truth_labels[best][0]].tp += 1
            continue
        cx, cy = (box_arr[0] + box_arr[2]) / 2, (box_arr[1] + box_arr[3]) / 2
        if any(x1 <= cx <= x2 and y1 <= cy <= y2 for x1, y1, x2, y2 in ignore):
            continue
        counts[label].fp += 1


def evaluate(detector: Detector, face_detector: FaceDetector | None,
             images: list[EvalImage], match_iou: dict[str, float]) -> EvalResult:
    """Run both detectors on every image and count matches per class."""
    result = EvalResult(detector.name, face_detector.name if face_detector else "")
    object_iou = match_iou.get("default", 0.5)
    face_iou = match_iou.get(FACE, object_iou)
    for image in images:
        pixels = read_image(image)
        start = time.perf_counter()
        detections = detector.detect(pixels)
        result.detect_ms.append((time.perf_counter() - start) * 1000)
        match([(d.label, d.score, d.box) for d in detections], image.objects, image.ignore,
              object_iou, result.counts)
        if face_detector is not None:
            start = time.perf_counter()
            faces = face_detector.detect(pixels)
            result.face_ms.append((time.perf_counter() - start) * 1000)
            truth = [{"label": FACE, "box": f["box"]} for f in image.faces]
            match([(FACE, f.score, f.box) for f in faces], truth, image.ignore, face_iou,
                  result.counts)
        result.images += 1
    return result
