"""The phones eval: every way of looking for phones, measured on the same photos.

``kuzet models eval --set phones`` runs each variant on the phone sets
(``kuzet_tools/models/phone_sets.py``): the ``measure`` part of phones-dev (never tuned on),
the registry photos, the phone-like negatives and the older objects set (books, notes, held
things), each at the photos' own scale and at seat distance (the photo shrunk 0.35x onto a
1280x720 classroom frame, judged through a 640x360 detection stream). Per variant, scale and
part: precision and recall per class, false phones per ten photos (and how many of them sat
on a phone-like thing) and milliseconds per photo; then the summary against the targets.
``--seat-costs`` adds the detect-thread milliseconds per seat on the 30-seat vtest map.

A variant is a look (``whole``: the detector on the whole photo; ``node``: as the node looks,
``edge/still_look.py``) and a phone finder (``edge/models/factory.py``'s choice).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from edge.models.base import Detection, Detector
from edge.models.factory import DetectionChoice, create_object_detector
from edge.still_look import look_like_node
from kuzet_tools.models.evalset import EvalImage, load_eval_set, read_image
from kuzet_tools.models.evaluate import ClassCounts, match
from kuzet_tools.models.phone_sets import DATA, SEAT_SCALE, load_phone_sets, seat_view

PHONE = "cell phone"
CLASSES = frozenset({PHONE, "person", "book", "laptop"})
LOOKALIKES = frozenset({"wallet", "camera", "lighter", "card", "remote", "calculator"})
OBJECTS_LABELS = DATA / "labels.json"          # the older set: books, notes, held things
PARTS = ("measure", "registry", "negatives", "objects")
SCALES = ("own", "seat")
LORES = (640, 360)                              # the detection stream at seat distance
TARGETS = {"phone_recall_own": 0.80, "phone_recall_seat": 0.70,
           "false_phones_per_10_photos": 1.0}


@dataclass(frozen=True)
class Variant:
    """One way of looking for phones."""

    name: str
    look: str                       # "whole" or "node"
    choice: DetectionChoice
    about: str

    def as_dict(self) -> dict:
        return {"name": self.name, "look": self.look, "phones": self.choice.phones,
                "lookalike_veto": self.choice.lookalike_veto, "model": self.choice.model,
                "about": self.about}


def variants(threshold: float = 0.3) -> dict[str, Variant]:
    """Every variant. All but ``default`` run NanoDet alone with every phone from the node's
    score threshold (the phone finder before its operating point was tuned); ``default`` is
    the node's own choice (``DetectionChoice()``: NanoDet + SSDLite at their tuned
    thresholds)."""
    def c(**kw) -> DetectionChoice:
        base = {"second_detector": None, "phone_threshold": threshold,
                "second_threshold": threshold, **kw}
        return DetectionChoice(score_threshold=threshold, faces=False,
                               second_looks_per_sweep=None, **base)
    found = [
        Variant("stock", "whole", c(phones="off"), "the COCO detector on the whole photo"),
        Variant("remote", "whole", c(), "remote counts as a phone, a phone on a book is a book"),
        Variant("node", "node", c(), "remote, looked at as the node looks: a seat per person "
                "and per cell of a seat-sized grid"),
        Variant("node+palm", "node", c(phones="hands"),
                "node, plus a second look at each palm the palm detector finds"),
        Variant("node+pose", "node", c(phones="pose"),
                "node, plus a second look at each wrist MoveNet finds"),
        Variant("node+veto", "node", c(lookalike_veto=True),
                "node, minus the phones EfficientNet-Lite0 takes for a look-alike"),
        Variant("node+ssd", "node", c(second_detector="ssdlite-mobilenet-v2"),
                "node, plus SSDLite MobileNetV2's phones beside NanoDet's, both from the "
                "node's threshold"),
        Variant("default", "node", DetectionChoice(score_threshold=threshold, faces=False),
                "the node's default: node + SSDLite, NanoDet's phones from 0.5 and "
                "SSDLite's from 0.7 (chosen on the tune part)"),
    ]
    return {v.name: v for v in found}


@dataclass
class PartResult:
    """One variant's counts on one part at one scale."""

    counts: dict[str, ClassCounts] = field(default_factory=lambda: defaultdict(ClassCounts))
    ms: list[float] = field(default_factory=list)
    photos: int = 0
    on_lookalikes: int = 0          # false phones centred on a phone-like thing

    def as_dict(self) -> dict:
        phones = self.counts.get(PHONE, ClassCounts())
        return {"photos": self.photos,
                "per_class": {k: self.counts[k].as_dict() for k in sorted(self.counts)},
                "false_phones": phones.fp,
                "false_phones_on_lookalikes": self.on_lookalikes,
                "false_phones_per_10_photos": round(10 * phones.fp / max(1, self.photos), 2),
                "ms_per_photo": round(float(np.median(self.ms)), 1) if self.ms else None}


def _names(item: dict) -> set[str]:
    """A label's names: one string, or a list of names that all count (``["paper", "book"]``)."""
    label = item["label"]
    return {label} if isinstance(label, str) else set(label)


def _centred_in(box, boxes: Iterable) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)


def look(variant: Variant, detector: Detector, pixels: np.ndarray, scale: str
         ) -> list[Detection]:
    """``variant``'s detections on ``pixels`` (a photo, or its seat-distance frame)."""
    if variant.look == "whole":
        return detector.detect(pixels)
    dets, _ = look_like_node(pixels, detector, None, lores=LORES if scale == "seat" else None)
    return dets


def score_image(variant: Variant, detector: Detector, image: EvalImage, scale: str,
                result: PartResult, min_iou: float = 0.5) -> None:
    """Look at one photo at ``scale`` and add its matches to ``result``."""
    pixels = read_image(image)
    if scale == "seat":
        pixels, image = seat_view(image, pixels, SEAT_SCALE)
    start = time.perf_counter()
    found = look(variant, detector, pixels, scale)
    result.ms.append(1000 * (time.perf_counter() - start))
    kept = [(d.label, d.score, d.box) for d in found if d.label in CLASSES]
    match(kept, [o for o in image.objects if _names(o) & CLASSES], image.ignore, min_iou,
          result.counts)
    result.on_lookalikes += _on_lookalikes(kept, image.objects, min_iou)
    result.photos += 1


def _on_lookalikes(kept: list, objects: list[dict], min_iou: float) -> int:
    """Phones centred on a phone-like thing that overlap no real phone enough to match."""
    from edge.models.nms import iou

    looks = [o["box"] for o in objects if _names(o) & LOOKALIKES]
    truth = np.array([o["box"] for o in objects if PHONE in _names(o)],
                     np.float32).reshape(-1, 4)
    n = 0
    for label, _, box in kept:
        if label != PHONE or not _centred_in(box, looks):
            continue
        if len(truth) and float(iou(np.asarray(box, np.float32), truth).max()) >= min_iou:
            continue
        n += 1
    return n


def load_parts(parts: Iterable[str], limit: int | None = None) -> dict[str, list[EvalImage]]:
    """The asked parts' photos (at most ``limit`` per part, evenly spread)."""
    parts = list(parts)
    sets = load_phone_sets([p for p in parts if p != "objects"])
    if "objects" in parts:
        sets["objects"] = load_eval_set(OBJECTS_LABELS)
    if limit:
        sets = {k: v[:: max(1, len(v) // limit)][:limit] for k, v in sets.items()}
    return {p: sets[p] for p in parts}


def run_variant(variant: Variant, sets: dict[str, list[EvalImage]],
                scales: Iterable[str] = SCALES) -> dict:
    """One variant on every part at every scale, with its summary."""
    detector = create_object_detector(variant.choice)
    results: dict[str, dict[str, PartResult]] = {}
    for scale in scales:
        results[scale] = {}
        for part, images in sets.items():
            result = PartResult()
            for image in images:
                score_image(variant, detector, image, scale, result)
            results[scale][part] = result
    out = {**variant.as_dict(),
           "results": {s: {p: r.as_dict() for p, r in parts.items()}
                       for s, parts in results.items()},
           "summary": summary(results)}
    out["second_looks"] = getattr(detector, "hand_looks", 0)
    veto = getattr(detector, "veto", None)
    if veto is not None:
        out["lookalike_checks"], out["vetoed"] = veto.checks, veto.vetoed
    return out


def summary(results: dict[str, dict[str, PartResult]]) -> dict:
    """The figures the targets name: phone recall on measure + registry, false phones per ten
    photos on every part but tune (look-alikes, books and notes included), person recall on
    the measured parts."""
    out: dict = {}
    for scale, parts in results.items():
        phones = _sum(parts, ("measure", "registry"), PHONE)
        judged = tuple(p for p in parts if p != "tune")
        false = _sum(parts, judged, PHONE)
        photos = sum(parts[p].photos for p in judged)
        persons = _sum(parts, tuple(parts), "person")
        out[scale] = {
            "phone_recall": round(phones.tp / phones.n, 3) if phones.n else None,
            "phones": phones.n,
            "false_phones_per_10_photos": round(10 * false.fp / photos, 2) if photos else None,
            "false_phones_on_lookalikes": sum(parts[p].on_lookalikes for p in parts),
            "photos": photos,
            "person_recall": round(persons.tp / persons.n, 3) if persons.n else None,
            "ms_per_photo": round(float(np.median([m for r in parts.values() for m in r.ms])), 1)
            if any(r.ms for r in parts.values()) else None,
        }
    return out


def _sum(parts: dict[str, PartResult], names: tuple[str, ...], label: str) -> ClassCounts:
    total = ClassCounts()
    for name in names:
        if name in parts:
            total.add(parts[name].counts.get(label, ClassCounts()))
    return total


def meets(summary_: dict) -> dict:
    """Which targets a variant's summary meets (None where the scale was not run)."""
    own, seat = summary_.get("own", {}), summary_.get("seat", {})

    def at_least(value, target):
        return None if value is None else value >= target
    fp = [s.get("false_phones_per_10_photos") for s in (own, seat) if s]
    return {"phone_recall_own": at_least(own.get("phone_recall"),
                                         TARGETS["phone_recall_own"]),
            "phone_recall_seat": at_least(seat.get("phone_recall"),
                                          TARGETS["phone_recall_seat"]),
            "false_phones_per_10_photos": None if not fp or None in fp else
            max(fp) <= TARGETS["false_phones_per_10_photos"]}


def run_phone_eval(names: Iterable[str], parts: Iterable[str] = PARTS,
                   scales: Iterable[str] = SCALES, threshold: float = 0.3,
                   limit: int | None = None) -> dict:
    """Every named variant on the parts and scales: the report ``--set phones`` prints."""
    table = variants(threshold)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown phone variant(s) {unknown}; variants are {sorted(table)}")
    sets = load_parts(parts, limit)
    report = {"parts": {p: len(v) for p, v in sets.items()}, "scales": list(scales),
              "score_threshold": threshold, "targets": TARGETS, "seat_scale": SEAT_SCALE,
              "lores_at_seat_distance": list(LORES), "variants": []}
    for name in names:
        row = run_variant(table[name], sets, scales)
        row["meets"] = meets(row["summary"])
        report["variants"].append(row)
    return report


def coco_persons(choice: DetectionChoice) -> dict:
    """Person precision and recall of ``choice``'s detector on the COCO eval set (the target:
    recall >= 0.95 at the node's threshold)."""
    import json

    from kuzet_tools.models.evalset import LABELS_PATH
    from kuzet_tools.models.evaluate import evaluate

    spec = json.loads(LABELS_PATH.read_text())
    report = evaluate(create_object_detector(choice), None, load_eval_set(LABELS_PATH),
                      spec.get("match_iou", {})).as_dict()
    return {"score_threshold": choice.score_threshold, "images": report["images"],
            **report["per_class"]["person"]}


def seat_costs(detectors: dict[str, Detector], rounds: int = 4) -> dict[str, dict]:
    """Detect-thread milliseconds per seat look (``infer`` only, inputs prepared beforehand)
    on the 30 seat crops of a real vtest.avi frame, the variants interleaved (each round runs
    every variant over the 30 seats) so that a neighbour's load hits them alike; median and
    10th percentile, and the sweep of 30 seats plus the room look that the median implies."""
    from kuzet_tools.bench.edge import seat_inputs

    inputs = {name: [p for p, _ in seat_inputs(det, det)] for name, det in detectors.items()}
    times: dict[str, list[float]] = {name: [] for name in detectors}
    looks0 = {name: getattr(det, "hand_looks", 0) for name, det in detectors.items()}
    for _ in range(rounds):
        for name, det in detectors.items():
            for prepared in inputs[name]:
                t0 = time.perf_counter()
                det.infer(prepared)
                times[name].append(1000 * (time.perf_counter() - t0))
    out = {}
    for name, det in detectors.items():
        ms = np.array(times[name][len(inputs[name]):])      # the first round warms up
        looks = getattr(det, "hand_looks", 0) - looks0[name]
        out[name] = {"ms_per_seat": round(float(np.median(ms)), 1),
                     "ms_per_seat_p10": round(float(np.percentile(ms, 10)), 1),
                     "sweep_s_31_looks": round(31 * float(np.median(ms)) / 1000, 2),
                     "second_looks_per_seat": round(looks / len(times[name]), 2)}
    return out


def variant_seat_costs(names: Iterable[str], threshold: float = 0.3,
                       every_seat: bool = True) -> dict[str, dict]:
    """:func:`seat_costs` for the named variants' detectors; with ``every_seat`` the hand
    variants also run with a hand forced on every seat (the worst case, uncapped)."""
    table = variants(threshold)
    dets = {n: create_object_detector(table[n].choice) for n in names}
    if every_seat:
        for n in [n for n in names if table[n].choice.phones == "hands"]:
            from edge.models.phones import create_phone_detector
            dets[f"{n} (a palm on every seat)"] = create_phone_detector(
                table[n].choice.model, threshold, hands="palm", palm_threshold=0.001)
    return seat_costs(dets)


