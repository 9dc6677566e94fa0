"""A phone head: a small model on NanoDet's own cell features that rescores ``cell phone``.

NanoDet-m's GFL head turns each cell's 128-d feature (after LeakyReLU) into 80 class scores by
one 1x1 convolution. :class:`PhoneHead` reads the same feature, plus the cell's log-odds of
``max(cell phone, remote)`` and a one-hot of its stride (8, 16, 32), and gives the probability
that the cell's decoded box is a phone (IoU >= 0.5 with one). It is trained here on real
photos (``kuzet models train-phone-head``, ``kuzet_tools/models/train_phone_head.py``) and
stored as plain numbers in ``phone_head.json``: normalisation, layers (ReLU between them, one
logit out), the threshold chosen on the tuning data, and where the weights came from. It runs in
numpy on all 3549 cells of a 416x416 look in about a millisecond.

``NanoDetDetector(phone_head=load_phone_head())`` puts the head's score in place of
``cell phone`` (and zeroes ``remote``) before thresholding and NMS. Scores keep the detector's
meaning of "at or above the threshold": :meth:`PhoneHead.detector_score` shifts the head's
log-odds so that the head's chosen threshold lands on the detector's ``score_threshold``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from edge.models.manifest import MANIFEST_PATH, check_sha256
from kuzet.errors import ModelError

HEAD_FILE = "phone_head.json"
HEAD_NAME = "phone-head"
STRIDES = (8, 16, 32)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def head_inputs(features: np.ndarray, phone_logit: np.ndarray,
                stride: int | np.ndarray) -> np.ndarray:
    """The head's input rows ``(n, 128 + 1 + 3)``: features, phone log-odds, stride one-hot.
    ``stride`` is one stride for all rows or one per row."""
    n = len(features)
    strides = np.broadcast_to(np.asarray(stride), (n,))
    onehot = (strides[:, None] == np.asarray(STRIDES)[None, :]).astype(np.float32)
    return np.concatenate([np.asarray(features, np.float32).reshape(n, -1),
                           np.asarray(phone_logit, np.float32).reshape(n, 1), onehot], axis=1)


@dataclass(frozen=True)
class PhoneHead:
    """Normalisation, layers ``((W, b), ...)`` with ReLU between them, the chosen probability
    ``threshold``, and the provenance of the weights."""

    mean: np.ndarray
    std: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    threshold: float
    provenance: dict = field(default_factory=dict, compare=False)

    @cached_property
    def _folded(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """The layers with the normalisation folded into the first (one matrix product)."""
        (w, b), rest = self.layers[0], self.layers[1:]
        first = (w / self.std[:, None]).astype(np.float32)
        return ((first, (b - (self.mean / self.std) @ w).astype(np.float32)), *rest)

    @property
    def kind(self) -> str:
        """``logistic`` or ``mlp-<hidden units>``."""
        if len(self.layers) == 1:
            return "logistic"
        return "mlp-" + "-".join(str(w.shape[1]) for w, _ in self.layers[:-1])

    def logits(self, features: np.ndarray, phone_logit: np.ndarray,
               stride: int | np.ndarray) -> np.ndarray:
        """The head's log-odds per cell."""
        return self.row_logits(head_inputs(features, phone_logit, stride))

    def row_logits(self, rows: np.ndarray) -> np.ndarray:
        """The head's log-odds of rows made by :func:`head_inputs`."""
        z = np.asarray(rows, np.float32)
        for k, (w, b) in enumerate(self._folded):
            z = z @ w + b
            if k < len(self.layers) - 1:
                np.maximum(z, 0, out=z)
        return z[:, 0]

    def score(self, features: np.ndarray, phone_logit: np.ndarray,
              stride: int | np.ndarray) -> np.ndarray:
        """The probability, per cell, that its decoded box is a phone (``(n,)`` float32)."""
        return (1 / (1 + np.exp(-self.logits(features, phone_logit, stride)))).astype(np.float32)

    def detector_score(self, features: np.ndarray, phone_logit: np.ndarray,
                       stride: int | np.ndarray, detector_threshold: float) -> np.ndarray:
        """The head's score on the detector's scale: its log-odds shifted by
        ``logit(detector_threshold) - logit(threshold)``, so that a cell is kept at the
        detector's threshold exactly when the head's probability reaches its own threshold;
        the order of cells (and so NMS) is the head's."""
        shift = _logit(detector_threshold) - _logit(self.threshold)
        z = self.logits(features, phone_logit, stride) + shift
        return (1 / (1 + np.exp(-z))).astype(np.float32)

    def as_dict(self) -> dict:
        """The JSON form (what ``phone_head.json`` holds)."""
        return {
            "kind": self.kind,
            "inputs": "128 NanoDet head features (NHWC, after LeakyReLU), log-odds of "
                      "max(cell phone, remote) clipped to [1e-4, 1-1e-4], one-hot stride 8/16/32",
            "mean": _rounded(self.mean), "std": _rounded(self.std),
            "layers": [{"weight": _rounded(w), "bias": _rounded(b)} for w, b in self.layers],
            "activation": "relu between layers; sigmoid of the last layer's one output",
            "threshold": self.threshold,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, spec: dict) -> PhoneHead:
        """Parse the JSON form; :class:`ModelError` when it is malformed."""
        try:
            layers = tuple((np.asarray(layer["weight"], np.float32),
                            np.asarray(layer["bias"], np.float32)) for layer in spec["layers"])
            head = cls(np.asarray(spec["mean"], np.float32), np.asarray(spec["std"], np.float32),
                       layers, float(spec["threshold"]), dict(spec.get("provenance", {})))
            width = head.mean.shape[0]
            for w, b in layers:
                if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                    raise ValueError(f"layer {w.shape} does not follow width {width}")
                width = w.shape[1]
            if width != 1 or head.std.shape != head.mean.shape:
                raise ValueError("the last layer must give one logit")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"phone head is malformed: {exc}") from exc
        return head


def _rounded(a: np.ndarray) -> list:
    """Nested lists of floats with 7 significant digits (stable bytes, float32 precision)."""
    return np.vectorize(lambda v: float(f"{v:.7g}"), otypes=[float])(np.asarray(a)).tolist()


def head_entry(manifest: str | Path | None = None) -> dict:
    """The manifest's ``heads`` entry for the phone head (file, sha256, licence, source)."""
    path = Path(manifest) if manifest else MANIFEST_PATH
    try:
        heads = json.loads(path.read_text()).get("heads", [])
        return next(h for h in heads if h["name"] == HEAD_NAME)
    except (OSError, ValueError, StopIteration) as exc:
        raise ModelError(f"model manifest {path} records no {HEAD_NAME}") from exc


def load_phone_head(path: str | Path | None = None, *,
                    manifest: str | Path | None = None) -> PhoneHead:
    """The phone head from ``phone_head.json`` beside the manifest (its sha256 checked
    against the manifest), or from ``path`` as it is (no check: a freshly trained file)."""
    if path is None:
        entry = head_entry(manifest)
        path = Path(manifest or MANIFEST_PATH).parent / entry["file"]
        check_sha256(path, entry["sha256"])
    try:
        spec = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"phone head {path} is missing or not JSON: {exc}") from exc
    return PhoneHead.from_dict(spec)
