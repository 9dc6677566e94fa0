"""A second opinion on each phone: is it a wallet, a camera, a lighter, a case?

The COCO detector has no class for the things students hold that look like a phone, so it
calls some of them ``cell phone``. :class:`LookalikeVeto` asks an ImageNet classifier
(EfficientNet-Lite0, ``edge/models/classifier.py``), whose 1000 classes include ``wallet``,
``purse``, two cameras, ``lighter`` and ``pencil box``, about a square crop around each phone
(twice the phone's longer side, so the hand and the context are in it) and drops the phone
when the classifier gives the look-alike classes together at least ``min_lookalike``
probability. The crop is cut from the image the detector looked at.

It only ever removes a phone, never adds one, and it is conservative by design: on the
phones-dev tuning photos the 0.5 bar dropped 5 of 149 real phones (docs/detection.md). It
costs one classifier run (about 7 ms here) per phone found, not per seat.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.models.base import Detection
from edge.models.classifier import ImageClassifier

PHONE = "cell phone"
LOOKALIKES: tuple[str, ...] = ("wallet", "purse", "Polaroid camera", "reflex camera", "lighter",
                               "pencil box", "packet", "book jacket", "envelope", "binder",
                               "notebook")


def context_square(box: Sequence[float], width: int, height: int, context: float
                   ) -> tuple[int, int, int, int] | None:
    """The square of side ``context`` times the box's longer side around its centre, clipped
    to the image; None when less than 8 pixels of it remain."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(box[2] - box[0], box[3] - box[1]) * context / 2
    x1, y1 = int(max(0, cx - half)), int(max(0, cy - half))
    x2, y2 = int(min(width, cx + half)), int(min(height, cy + half))
    if x2 - x1 < 8 or y2 - y1 < 8:
        return None
    return x1, y1, x2, y2


class LookalikeVeto:
    """Drops the ``cell phone`` detections that the classifier takes for a look-alike."""

    def __init__(self, classifier: ImageClassifier, *, min_lookalike: float = 0.5,
                 context: float = 2.0, max_checks: int = 4) -> None:
        self.classifier = classifier
        self.min_lookalike = min_lookalike
        self.context = context
        self.max_checks = max_checks
        self._look = np.array([classifier.index(n) for n in LOOKALIKES])
        self.checks = 0          # classifier runs (for benchmarks)
        self.vetoed = 0

    def lookalike(self, image: np.ndarray, box: Sequence[float]) -> float | None:
        """The look-alike classes' probability, together, for the phone at ``box`` in
        ``image`` (``None``: too little of its square is in the image)."""
        h, w = image.shape[:2]
        square = context_square(box, w, h, self.context)
        if square is None:
            return None
        x1, y1, x2, y2 = square
        probs = self.classifier.classify(image[y1:y2, x1:x2])
        self.checks += 1
        return float(probs[self._look].sum())

    def filter(self, image: np.ndarray, dets: list[Detection]) -> list[Detection]:
        """``dets`` without the phones taken for look-alikes (the best ``max_checks`` phones
        are checked; any further ones are kept as they are)."""
        out, checked = [], 0
        for d in dets:
            if d.label == PHONE and checked < self.max_checks:
                checked += 1
                p = self.lookalike(image, d.box)
                if p is not None and p >= self.min_lookalike:
                    self.vetoed += 1
                    continue
            out.append(d)
        return out
