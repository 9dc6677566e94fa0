"""The phones eval: every way of looking for phones, measured on the same photos.

``kuzet models eval --set phones`` runs each variant on ``tests/data/phones/labels.json`` and
reports, per variant, precision and recall per class, false phones per ten photos and
milliseconds per image; ``--seat-costs`` adds the detect-thread milliseconds per seat on the
30-seat vtest map and the sweep time they imply. Variants:

* ``stock``: the COCO detector as it is;
* ``remote``: ``remote`` counted as ``cell phone``;
* ``hands``: ``remote`` + a second look at the hands (``PhoneAwareDetector``);
* ``hands+persons``: ``hands`` on the whole image and again on each person's crop (what the
  node's seat crops give a camera-wide photo).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from edge.models.base import Detection, Detector, FaceDetector
from edge.models.phones import PHONE, PHONE_LIKE, PhoneAwareDetector, merge
from kuzet_tools.models.evalset import EvalImage, read_image
from kuzet_tools.models.evaluate import FACE, ClassCounts, match

VARIANTS = ("stock", "remote", "hands", "hands+persons")
HELD = ("bottle", "sports ball")     # objects held in a hand: the stand-ins for held phones


def person_crops(detector: Detector, image: np.ndarray, found: list[Detection],
                 margin: float = 0.15, max_persons: int = 8) -> list[Detection]:
    """``found`` plus ``detector`` run again on each person's box (grown by ``margin``)."""
    h, w = image.shape[:2]
    out = list(found)
    persons = [d for d in found if d.label == "person"][:max_persons]
    for p in persons:
        x1, y1, x2, y2 = p.box
        mx, my = (x2 - x1) * margin, (y2 - y1) * margin
        cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        cx2, cy2 = min(w, int(x2 + mx)), min(h, int(y2 + my))
        if cx2 - cx1 < 8 or cy2 - cy1 < 8:
            continue
        for d in detector.detect(image[cy1:cy2, cx1:cx2]):
            b = d.box
            out.append(Detection(d.label, d.score, (b[0] + cx1, b[1] + cy1, b[2] + cx1,
                                                    b[3] + cy1)))
    return merge(out)


@dataclass
class VariantResult:
    """One variant's counts and timings on the phones set."""

    variant: str
    counts: dict[str, ClassCounts] = field(default_factory=lambda: defaultdict(ClassCounts))
    ms: list[float] = field(default_factory=list)
    images: int = 0

    def as_dict(self) -> dict:
        held = ClassCounts()
        for name in HELD:
            c = self.counts.get(name, ClassCounts())
            held.tp, held.fp, held.n = held.tp + c.tp, held.fp + c.fp, held.n + c.n
        phones = self.counts.get(PHONE, ClassCounts())
        return {
            "variant": self.variant,
            "images": self.images,
            "per_class": {k: self.counts[k].as_dict() for k in sorted(self.counts)},
            "held_objects": held.as_dict(),
            "false_phones_per_10_images": round(10 * phones.fp / max(1, self.images), 2),
            "ms_per_image": round(float(np.median(self.ms)), 1) if self.ms else None,
        }


def run_variant(variant: str, detector: PhoneAwareDetector, plain: Detector,
                images: list[EvalImage], classes: set[str], match_iou: float
                ) -> VariantResult:
    """Count one variant's matches. ``plain`` is the stock detector, ``detector`` the
    phone-aware one (its ``palms`` set for the ``hands`` variants)."""
    result = VariantResult(variant)
    hand_classes = detector.hand_classes
    detector.hand_classes = PHONE_LIKE | frozenset(HELD)   # held objects: the recall proxy
    try:
        for image in images:
            _look(variant, detector, plain, image, classes, match_iou, result)
    finally:
        detector.hand_classes = hand_classes
    return result


def _look(variant: str, detector: PhoneAwareDetector, plain: Detector, image: EvalImage,
          classes: set[str], match_iou: float, result: VariantResult) -> None:
    pixels = read_image(image)
    start = time.perf_counter()
    if variant == "stock":
        found = plain.detect(pixels)
    elif variant == "remote":
        palms, detector.palms = detector.palms, None
        try:
            found = detector.detect(pixels)
        finally:
            detector.palms = palms
    else:
        found = detector.detect(pixels)
        if variant == "hands+persons":
            found = person_crops(detector, pixels, found)
    result.ms.append((time.perf_counter() - start) * 1000)
    kept = [(d.label, d.score, d.box) for d in found if d.label in classes]
    match(kept, image.objects, image.ignore, match_iou, result.counts)
    result.images += 1


def face_counts(faces: FaceDetector, images: list[EvalImage], match_iou: float
                ) -> ClassCounts:
    """BlazeFace on the same photos (the same for every variant)."""
    counts: dict[str, ClassCounts] = defaultdict(ClassCounts)
    for image in images:
        found = faces.detect(read_image(image))
        truth = [{"label": FACE, "box": f["box"]} for f in image.faces]
        match([(FACE, f.score, f.box) for f in found], truth, image.ignore, match_iou, counts)
    return counts[FACE]


def seat_costs(variants: dict[str, Detector], rounds: int = 4) -> dict[str, dict]:
    """Detect-thread milliseconds per seat look (``infer`` only, inputs prepared beforehand)
    on the 30 seat crops of a real vtest.avi frame, the variants interleaved (each round runs
    every variant over the 30 seats) so that a neighbour's load hits them alike; median and
    10th percentile, and the sweep of 30 seats plus the room look that the median implies."""
    from kuzet_tools.bench.edge import seat_inputs

    inputs = {name: [p for p, _ in seat_inputs(det, det)] for name, det in variants.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    looks0 = {name: getattr(det, "hand_looks", 0) for name, det in variants.items()}
    for _ in range(rounds):
        for name, det in variants.items():
            for prepared in inputs[name]:
                t0 = time.perf_counter()
                det.infer(prepared)
                times[name].append(1000 * (time.perf_counter() - t0))
    out = {}
    for name, det in variants.items():
        ms = np.array(times[name][len(inputs[name]):])      # the first round warms up
        looks = getattr(det, "hand_looks", 0) - looks0[name]
        out[name] = {"ms_per_seat": round(float(np.median(ms)), 1),
                     "ms_per_seat_p10": round(float(np.percentile(ms, 10)), 1),
                     "sweep_s_31_looks": round(31 * float(np.median(ms)) / 1000, 2),
                     "second_looks_per_seat": round(looks / len(times[name]), 2)}
    return out


def node_revisit(detector: Detector, seconds: float = 30.0) -> dict:
    """Run the whole edge node on vtest.avi (30 seats, a real mosquitto) with ``detector`` in
    place of the plain one, as ``kuzet bench edge`` does, and report its worst seat revisit."""
    import tempfile
    from pathlib import Path

    from edge.config import load_config
    from edge.node import EdgeNode
    from kuzet_tools.broker import MosquittoBroker
    from kuzet_tools.examples import write_vtest_node

    with tempfile.TemporaryDirectory(prefix="kuzet-phones-") as tmp, \
            MosquittoBroker(Path(tmp) / "mq") as broker:
        path = write_vtest_node(Path(tmp) / "node", broker_port=broker.port, loop=True)
        node = EdgeNode(load_config(path), detector=detector)   # the rest as the node builds it
        node.start()
        try:
            while node.stats.looks < 10:
                time.sleep(0.05)
            start, t0 = node.stats, time.perf_counter()
            node.stop_event.wait(seconds)
            wall = time.perf_counter() - t0
            end = node.stats
            looks, model_s = end.looks - start.looks, end.model_s - start.model_s
            worst = end.worst_seat_revisit
        finally:
            node.stop()
    return {"pipeline_fps": round(looks / wall, 1),
            "infer_ms_per_look": round(1000 * model_s / max(1, looks), 1),
            "worst_seat_revisit_s": None if worst is None else round(worst, 2)}
