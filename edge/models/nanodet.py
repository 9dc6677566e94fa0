"""NanoDet-m 416 (COCO-80) decoder: letterbox, BGR normalisation, GFL decoding, per-class NMS.

The converted model takes ``[1, 3, 416, 416]`` float32 (NCHW, BGR, normalised with NanoDet's
mean and std) and gives, per stride 8, 16 and 32, class scores ``[1, N, 80]`` (sigmoid already
applied) and box distributions ``[1, N, 44]``: for each of the four sides (left, top, right,
bottom) 11 bins of Generalised Focal Loss; the softmax-weighted bin index times the stride is
the distance from the cell centre to that side. A file converted with the head's input
features as extra outputs also gives, per stride, ``[1, H, W, 128]`` (NHWC, after LeakyReLU):
outputs are told apart by shape, so a file without them (the six outputs only) works the same.

With a :class:`~edge.models.phone_head.PhoneHead` (``phone_head=``, needs the feature outputs)
each cell's ``cell phone`` score is the head's, mapped so that the head's own threshold lands
on this detector's ``score_threshold`` or the phone threshold given to :meth:`use_phone_head`
(:meth:`PhoneHead.detector_score`), and ``remote`` is zeroed; boxes, other classes and NMS are
unchanged. The hand looks' lower phone threshold then reads the same mapped scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from edge.models.base import Detection, Detector, Prepared
from edge.models.coco import COCO_LABELS
from edge.models.manifest import open_model
from edge.models.nms import nms
from kuzet.errors import ModelError

if TYPE_CHECKING:
    from edge.models.phone_head import PhoneHead

MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
STRIDES = (8, 16, 32)
BINS = 11
FEATURES = 128            # channels of the head's input feature per cell
PHONE = COCO_LABELS.index("cell phone")
REMOTE = COCO_LABELS.index("remote")


class NanoDetDetector(Detector):
    """COCO object detector over a NanoDet-m TFLite file (fp16 or dynamic-range int8).

    ``detect`` letterboxes any image to the model's square input (top-left aligned, so the
    boxes map back by one scale factor) and returns boxes in the image's own pixels.
    """

    INPUT_SHAPE = (1, 3, 416, 416)

    def __init__(self, path: str | Path, *, name: str = "nanodet", sha256: str | None = None,
                 score_threshold: float = 0.35, iou_threshold: float = 0.5,
                 num_threads: int = 2, max_detections: int = 100,
                 phone_head: PhoneHead | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self.input_size = self.INPUT_SHAPE[2]
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        self._input_index = self._interp.get_input_details()[0]["index"]
        self._outputs, self._features = self._map_outputs()
        self.phone_head: PhoneHead | None = None
        self.phone_head_at = score_threshold
        if phone_head is not None:
            self.use_phone_head(phone_head)
        self._centres = {s: self._grid(s) for s in STRIDES}
        self._bins = np.arange(BINS, dtype=np.float32)
        self._scale_std = (1.0 / STD).astype(np.float32)

    def use_phone_head(self, head: PhoneHead | None, at: float | None = None) -> None:
        """Rescore phones with ``head`` from now on (``None``: the model's own scores); the
        head's threshold lands on ``at`` (default ``score_threshold``): the threshold that
        whatever reads this detector applies to its phones."""
        if head is not None and self._features is None:
            raise ModelError(f"model file {self.path} has no feature outputs: a phone head "
                             "needs the NanoDet file that build_models.py converts")
        self.phone_head = head
        self.phone_head_at = self.score_threshold if at is None else at

    def _map_outputs(self) -> tuple[dict[int, tuple[int, int]], dict[int, int] | None]:
        """Output tensor indices found by shape: ``{stride: (scores, boxes)}`` and, when the
        file has them, ``{stride: features}`` (else ``None``)."""
        found: dict[tuple[int, ...], int] = {}
        for out in self._interp.get_output_details():
            found[tuple(int(v) for v in out["shape"][1:])] = out["index"]
        result, features = {}, {}
        for stride in STRIDES:
            cells = self.input_size // stride
            result[stride] = (found[(cells * cells, len(COCO_LABELS))],
                              found[(cells * cells, 4 * BINS)])
            if (cells, cells, FEATURES) in found:
                features[stride] = found[(cells, cells, FEATURES)]
        return result, (features if len(features) == len(STRIDES) else None)

    def _grid(self, stride: int) -> np.ndarray:
        """Cell centres ``(N, 2)`` in input pixels, row-major like the model's outputs."""
        cells = self.input_size // stride
        ys, xs = np.mgrid[0:cells, 0:cells].astype(np.float32)
        return np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)

    def prepare(self, image: np.ndarray) -> Prepared:
        """The letterboxed, normalised input tensor for ``image`` (a new array each call, so
        another thread may prepare the next look while the model runs)."""
        h, w = image.shape[:2]
        scale = self.input_size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        tensor = np.zeros(self.INPUT_SHAPE, dtype=np.float32)  # zero = the mean colour
        for c, channel in enumerate(cv2.split(resized)):       # per plane: NCHW, no transpose
            plane = tensor[0, c, :nh, :nw]
            plane[...] = channel
            plane *= self._scale_std[c]
            plane -= MEAN[c] * self._scale_std[c]
        return Prepared(tensor, scale, w, h)

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        """Run the model; the raw outputs (copies) in ``_outputs`` order, then, with a phone
        head, the three feature maps."""
        self._interp.set_tensor(self._input_index, prepared.tensor)
        self._interp.invoke()
        raw = [self._interp.get_tensor(i) for pair in self._outputs.values() for i in pair]
        if self.phone_head is not None and self._features is not None:
            raw += [self._interp.get_tensor(i) for i in self._features.values()]
        return raw

    def best_score(self, raw: list[np.ndarray], labels: frozenset[str]) -> float:
        """The highest score any cell gives any of ``labels`` in ``raw`` (as ``infer`` gave
        it): a cheap test, before any decoding, of whether a look saw anything of the kind."""
        idx = [COCO_LABELS.index(name) for name in labels if name in COCO_LABELS]
        scores = self.cell_scores(raw[: 2 * len(STRIDES)])
        return float(max((s[:, idx].max() for s in scores if s.size), default=0.0))

    def infer_features(self, prepared: Prepared) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Run the model; ``(raw outputs as infer gives them, [(H*W, 128)] per stride)``."""
        if self._features is None:
            raise ModelError(f"model file {self.path} has no feature outputs")
        raw = self.infer(prepared)[: 2 * len(STRIDES)]
        return raw, [self._interp.get_tensor(i)[0].reshape(-1, FEATURES)
                     for i in self._features.values()]

    def cell_scores(self, raw: list[np.ndarray]) -> list[np.ndarray]:
        """Per stride, the ``(N, 80)`` class scores that ``decode`` thresholds: the model's,
        or with a phone head the head's ``cell phone`` score and ``remote`` zeroed."""
        scores = [raw[2 * k][0] for k in range(len(STRIDES))]
        head = self.phone_head
        if head is None or len(raw) < 3 * len(STRIDES):
            return scores
        out = []
        for k, stride in enumerate(STRIDES):
            cls = scores[k].copy()
            features = raw[2 * len(STRIDES) + k][0].reshape(-1, FEATURES)
            phone = np.maximum(cls[:, PHONE], cls[:, REMOTE])
            cls[:, PHONE] = head.detector_score(features, logit(phone), stride,
                                                self.phone_head_at)
            cls[:, REMOTE] = 0.0
            out.append(cls)
        return out

    def _boxes(self, dist: np.ndarray, stride: int, anchor: np.ndarray | slice) -> np.ndarray:
        """``(n, 4)`` boxes in input pixels of the cells ``anchor`` from their ``(N, 44)``
        bin logits."""
        dist = dist[anchor].reshape(-1, 4, BINS)
        dist = np.exp(dist - dist.max(axis=2, keepdims=True))
        dist = (dist @ self._bins) / dist.sum(axis=2) * stride
        centre = self._centres[stride][anchor]
        return np.concatenate([centre - dist[:, :2], centre + dist[:, 2:]], axis=1)

    def cell_boxes(self, raw: list[np.ndarray], prepared: Prepared) -> list[np.ndarray]:
        """Per stride, every cell's decoded box ``(N, 4)`` in source pixels (unclipped)."""
        return [self._boxes(raw[2 * k + 1][0], s, slice(None)) / prepared.scale
                for k, s in enumerate(self._outputs)]

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Detection]:
        """Boxes in source pixels, best first, after per-class NMS."""
        w, h, scale = prepared.width, prepared.height, prepared.scale
        boxes, scores, classes = [], [], []
        cells = self.cell_scores(raw)
        for k, stride in enumerate(self._outputs):
            cls = cells[k]
            anchor, label = np.nonzero(cls >= self.score_threshold)
            if anchor.size == 0:
                continue
            boxes.append(self._boxes(raw[2 * k + 1][0], stride, anchor))
            scores.append(cls[anchor, label])
            classes.append(label)
        if not boxes:
            return []
        box = np.concatenate(boxes) / scale
        score = np.concatenate(scores)
        label = np.concatenate(classes)
        np.clip(box, 0, [w, h, w, h], out=box)
        keep = nms(box, score, self.iou_threshold, label, self.max_detections)
        return [Detection(COCO_LABELS[label[i]], float(score[i]),
                          tuple(float(v) for v in box[i])) for i in keep]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Objects in ``image`` (HxWx3 uint8 BGR), best first, boxes in source pixels."""
        prepared = self.prepare(image)
        return self.decode(self.infer(prepared), prepared)


def logit(p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Log-odds of scores, clipped to ``[eps, 1 - eps]`` first."""
    p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))
