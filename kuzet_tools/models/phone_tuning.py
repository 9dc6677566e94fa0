"""Choosing the phone finder's operating point on the tuning photos only.

``kuzet models tune-phones`` looks at every photo of phones-dev's ``tune`` part, at the
photos' own scale and at seat distance, the way the node looks (``edge/still_look.py``), once
per phone source with a low phone threshold, and keeps each source's phones with their scores:

* ``nanodet``: NanoDet-m's ``cell phone`` and ``remote`` (the phone finder's first look);
* ``nanodet+head``: the same, rescored by the trained phone head (``edge/models/phone_head.py``);
* ``ssdlite``: SSDLite MobileNetV2's ``cell phone`` and ``remote``.

Then it tries every pair of thresholds (one NanoDet source, SSDLite or none) and reports, per
pair, recall and false phones per ten photos at both scales, and picks the pair with the most
recall at seat distance plus at the photos' scale whose false phones stay within ``max_fp``
per ten photos at both scales. Applying a threshold after class-wise NMS keeps the same
boxes as applying it before (greedy NMS only lets a higher score suppress a lower one), so one
low-threshold look per source serves every threshold. The ``measure`` part is never read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.models.base import Detection
from edge.models.factory import with_phone_head
from edge.models.nms import iou
from edge.models.phones import create_phone_detector, merge
from edge.still_look import look_like_node
from kuzet_tools.models.evalset import EvalImage, read_image
from kuzet_tools.models.phone_sets import SEAT_SCALE, load_phone_sets, seat_view

PHONE = "cell phone"
LORES = (640, 360)
SOURCES = ("nanodet", "nanodet+head", "ssdlite")
FLOOR = 0.3          # the node's score threshold: book candidates for the tie-break start here
THRESHOLDS = tuple(round(t, 2) for t in np.arange(FLOOR, 0.81, 0.05))


@dataclass(frozen=True)
class Seen:
    """One photo at one scale: its phones' boxes and each source's phones ``(score, box)``."""

    truth: np.ndarray
    found: dict[str, list[tuple[float, tuple]]]


def _finder(source: str, floor: float):
    """The phone finder as the node builds it, but with only ``source``'s phones, all of them
    from ``floor`` up: SSDLite's come through the pair with NanoDet's phones shut out, so the
    book tie-break still sees NanoDet's books as on the node."""
    if source == "ssdlite":
        return create_phone_detector(None, score_threshold=floor, phone_threshold=1.01,
                                     second_detector="ssdlite-mobilenet-v2",
                                     second_threshold=floor)
    finder = create_phone_detector(None, score_threshold=floor, phone_threshold=floor)
    if source == "nanodet+head":
        with_phone_head(finder, floor)      # the head's own threshold lands on the floor
    return finder


def collect(images: list[EvalImage], sources: Iterable[str] = SOURCES, floor: float = FLOOR
            ) -> dict[str, list[Seen]]:
    """Each source's phones (score >= ``floor``) on each photo at ``own`` and ``seat``."""
    sources = list(sources)
    finders = {s: _finder(s, floor) for s in sources}
    out: dict[str, list[Seen]] = {"own": [], "seat": []}
    for image in images:
        pixels = read_image(image)
        for scale in ("own", "seat"):
            px, img = (seat_view(image, pixels, SEAT_SCALE) if scale == "seat"
                       else (pixels, image))
            truth = np.array([o["box"] for o in img.objects if o["label"] == PHONE],
                             np.float32).reshape(-1, 4)
            found = {}
            for s, finder in finders.items():
                dets, _ = look_like_node(px, finder, None,
                                         lores=LORES if scale == "seat" else None)
                found[s] = [(d.score, d.box) for d in dets if d.label == PHONE]
            out[scale].append(Seen(truth, found))
    return out


def score(seen: list[Seen], thresholds: dict[str, float]) -> tuple[float, float]:
    """Recall and false phones per ten photos with each source's phones at its threshold,
    merged by class-wise NMS."""
    tp = fp = n = 0
    for s in seen:
        dets = [Detection(PHONE, sc, box) for src, t in thresholds.items()
                for sc, box in s.found.get(src, []) if sc >= t]
        used = np.zeros(len(s.truth), bool)
        n += len(s.truth)
        for d in merge(dets):
            overlaps = iou(np.asarray(d.box, np.float32), s.truth) if len(s.truth) else []
            best = int(np.argmax(overlaps)) if len(overlaps) else -1
            if best >= 0 and overlaps[best] >= 0.5 and not used[best]:
                used[best] = True
                tp += 1
            else:
                fp += 1
    return (tp / n if n else 0.0), 10 * fp / max(1, len(seen))


def grid(seen: dict[str, list[Seen]], first: str, thresholds: Iterable[float] = THRESHOLDS,
         max_fp: float = 1.0) -> dict:
    """Every (``first`` threshold, SSDLite threshold or none) pair; the best within ``max_fp``."""
    rows = []
    seconds = [None, *thresholds] if "ssdlite" in seen["own"][0].found else [None]
    for t1, t2 in itertools.product(list(thresholds), seconds):
        chosen = {first: t1, **({"ssdlite": t2} if t2 is not None else {})}
        own, seat = score(seen["own"], chosen), score(seen["seat"], chosen)
        rows.append({"first": first, "first_threshold": t1, "ssdlite_threshold": t2,
                     "recall_own": round(own[0], 3), "fp10_own": round(own[1], 2),
                     "recall_seat": round(seat[0], 3), "fp10_seat": round(seat[1], 2)})
    within = [r for r in rows if r["fp10_own"] <= max_fp and r["fp10_seat"] <= max_fp]
    best = max(within, key=lambda r: (r["recall_seat"] + r["recall_own"]), default=None)
    return {"rows": rows, "best": best}


def tune(max_fp: float = 1.0, limit: int | None = None, sources: Iterable[str] = SOURCES,
         cache: Path | None = None) -> dict:
    """The report ``kuzet models tune-phones`` prints."""
    images = load_phone_sets(("tune",))["tune"]
    if limit:
        images = images[:: max(1, len(images) // limit)][:limit]
    sources = list(sources)
    seen = collect(images, sources)
    if cache is not None:
        import pickle
        cache.write_bytes(pickle.dumps(seen))
    report = {"part": "tune", "photos": len(images), "max_false_phones_per_10": max_fp,
              "alone": {}, "grids": {}}
    for src in sources:
        report["alone"][src] = [
            {"threshold": t, "own": [round(v, 3) for v in score(seen["own"], {src: t})],
             "seat": [round(v, 3) for v in score(seen["seat"], {src: t})]}
            for t in THRESHOLDS]
    for first in [s for s in sources if s != "ssdlite"]:
        found = grid(seen, first, max_fp=max_fp)
        report["grids"][first] = {"best": found["best"],
                                  "rows": [r for r in found["rows"]
                                           if r["ssdlite_threshold"] in (None, 0.3, 0.4, 0.5)]}
    return report
