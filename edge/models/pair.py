"""Two detectors on one image: the primary's detections plus the second's phones.

NanoDet and SSDLite MobileNetV2 miss different phones, so the union of their ``cell phone``
boxes finds more of them than either alone. :class:`PairDetector` runs the primary detector
and the second one on the same image, keeps every detection of the primary and adds the
second's ``cell phone`` and ``remote`` boxes (labelled ``cell phone``) that reach its own
threshold, then merges the lot with a class-wise NMS (:func:`edge.models.merge.merge`).

It is staged like any detector: ``prepare`` makes both inputs, ``infer`` runs both models one
after the other (the detect thread), ``decode`` decodes both. Its raw outputs are the
primary's followed by the second's (``SECOND_OUTPUTS`` arrays, none of them 2-D), so a wrapper
that appends its own arrays (the phone finder's tile table) still finds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.models.base import Detection, Detector, Prepared
from edge.models.merge import merge
from edge.models.ssdlite import SSDLiteDetector

PHONE = "cell phone"
PHONE_CLASSES = frozenset({"cell phone", "remote"})
SECOND_OUTPUTS = 2      # SSDLite: scores and boxes


@dataclass(frozen=True)
class PairPrepared(Prepared):
    """The primary detector's input plus the second detector's."""

    second: Prepared | None = None


class PairDetector(Detector):
    """``primary``'s detections plus ``second``'s phones at ``second_threshold`` or more.

    ``second`` must have been built with a score threshold at most ``second_threshold``. A
    ``Prepared`` that is not a :class:`PairPrepared` (a wrapper that rebuilt it) gets the
    second's input from its ``image`` in ``infer``; without an image the second is skipped.
    """

    def __init__(self, primary: Detector, second: SSDLiteDetector, *,
                 second_threshold: float = 0.3,
                 primary_phone_threshold: float | None = None,
                 gate: float | None = None, max_per_sweep: int | None = None) -> None:
        self.detector = primary      # the name the wrappers use
        self.second = second
        self.second_threshold = second_threshold
        # the primary's own phones need this (None: whatever the primary kept), so that each
        # detector's phones have their own threshold when a wrapper looks at the pair
        self.primary_phone_threshold = primary_phone_threshold
        self.name = f"{primary.name}+{second.name}"
        self.input_size = primary.input_size
        # the second detector runs only on looks where the primary gave a phone-like class at
        # least ``gate`` somewhere (a primary without ``best_score`` is never gated), and at
        # most ``max_per_sweep`` times between two calls of ``new_sweep``
        self.gate = gate
        self.max_per_sweep = max_per_sweep
        self.second_runs = 0         # for benchmarks and the node's status
        self.second_skipped = 0      # looks the per-sweep cap left without the second
        self._sweep_runs = 0
        # False: the node sheds second looks to keep its revisit bound (edge/budget.py)
        self.second_looks = True
        self.second_shed = 0         # looks the gate wanted the second on, shed

    def new_sweep(self) -> None:
        """A new sweep of the room starts: the per-sweep cap starts again."""
        self._sweep_runs = 0

    def _wanted(self, raw: list[np.ndarray]) -> bool:
        best = getattr(self.detector, "best_score", None)
        if self.gate is not None and best is not None and best(raw, PHONE_CLASSES) < self.gate:
            return False
        if not self.second_looks:
            self.second_shed += 1
            return False
        if self.max_per_sweep is not None and self._sweep_runs >= self.max_per_sweep:
            self.second_skipped += 1
            return False
        self._sweep_runs += 1
        self.second_runs += 1
        return True

    def prepare(self, image: np.ndarray) -> PairPrepared:
        p = self.detector.prepare(image)
        return PairPrepared(p.tensor, p.scale, p.width, p.height, image,
                            self.second.prepare(image))

    def _second_input(self, prepared: Prepared) -> Prepared | None:
        if isinstance(prepared, PairPrepared) and prepared.second is not None:
            return prepared.second
        return self.second.prepare(prepared.image) if prepared.image is not None else None

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        """The primary's outputs, then the second's (empty arrays when it was skipped)."""
        raw = self.detector.infer(prepared)
        second = self._second_input(prepared) if self._wanted(raw) else None
        if second is None:
            return raw + [np.zeros((1, 0, 90), np.float32), np.zeros((1, 0, 1, 4), np.float32)]
        return raw + self.second.infer(second)

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Detection]:
        """Both detectors' detections in image pixels, best first."""
        found = self.detector.decode(raw[:-SECOND_OUTPUTS], prepared)
        floor = self.primary_phone_threshold
        if floor is not None:
            found = [d for d in found if d.label not in PHONE_CLASSES or d.score >= floor]
        if raw[-2].shape[1]:     # the second's boxes need only the image's size
            found += [Detection(PHONE, d.score, d.box)
                      for d in self.second.decode(raw[-SECOND_OUTPUTS:], prepared)
                      if d.label in PHONE_CLASSES and d.score >= self.second_threshold]
        return merge(found)


def create_pair_detector(primary: Detector, second: str, *, second_threshold: float = 0.3,
                         primary_phone_threshold: float | None = None,
                         gate: float | None = None, max_per_sweep: int | None = None,
                         num_threads: int = 2,
                         manifest: str | Path | None = None) -> PairDetector:
    """``primary`` paired with the registry's detector ``second`` (an SSDLite one); the
    primary's phones need ``primary_phone_threshold``, the second's ``second_threshold``."""
    from edge.models.registry import create_detector

    model = create_detector(second, second_threshold, num_threads, manifest)
    if not isinstance(model, SSDLiteDetector):
        raise ValueError(f"second detector {second!r} must be an SSDLite detector")
    return PairDetector(primary, model, second_threshold=second_threshold,
                        primary_phone_threshold=primary_phone_threshold, gate=gate,
                        max_per_sweep=max_per_sweep)
