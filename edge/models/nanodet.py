"""NanoDet-m 416 (COCO-80) decoder: letterbox, BGR normalisation, GFL decoding, per-class NMS.

The converted model takes ``[1, 3, 416, 416]`` float32 (NCHW, BGR, normalised with NanoDet's
mean and std) and gives, per stride 8, 16 and 32, class scores ``[1, N, 80]`` (sigmoid already
applied) and box distributions ``[1, N, 44]``: for each of the four sides (left, top, right,
bottom) 11 bins of Generalised Focal Loss; the softmax-weighted bin index times the stride is
the distance from the cell centre to that side.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Detection, Detector, Prepared
from edge.models.coco import COCO_LABELS
from edge.models.manifest import open_model
from edge.models.nms import nms

MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
STRIDES = (8, 16, 32)
BINS = 11


class NanoDetDetector(Detector):
    """COCO object detector over a NanoDet-m TFLite file (fp16 or dynamic-range int8).

    ``detect`` letterboxes any image to the model's square input (top-left aligned, so the
    boxes map back by one scale factor) and returns boxes in the image's own pixels.
    """

    INPUT_SHAPE = (1, 3, 416, 416)

    def __init__(self, path: str | Path, *, name: str = "nanodet", sha256: str | None = None,
                 score_threshold: float = 0.35, iou_threshold: float = 0.5,
                 num_threads: int = 2, max_detections: int = 100) -> None:
        self.name = name
        self.path = Path(path)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self.input_size = self.INPUT_SHAPE[2]
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        self._input_index = self._interp.get_input_details()[0]["index"]
        self._outputs = self._map_outputs()
        self._centres = {s: self._grid(s) for s in STRIDES}
        self._bins = np.arange(BINS, dtype=np.float32)
        self._scale_std = (1.0 / STD).astype(np.float32)

    def _map_outputs(self) -> dict[int, tuple[int, int]]:
        """Output tensor indices per stride: ``{stride: (scores, boxes)}``, found by shape."""
        found: dict[tuple[int, int], int] = {}
        for out in self._interp.get_output_details():
            _, n, width = (int(v) for v in out["shape"])
            found[(n, width)] = out["index"]
        result = {}
        for stride in STRIDES:
            n = (self.input_size // stride) ** 2
            result[stride] = (found[(n, len(COCO_LABELS))], found[(n, 4 * BINS)])
        return result

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
        """Run the model; the raw outputs (copies) in ``_outputs`` order."""
        self._interp.set_tensor(self._input_index, prepared.tensor)
        self._interp.invoke()
        return [self._interp.get_tensor(i) for pair in self._outputs.values() for i in pair]

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Detection]:
        """Boxes in source pixels, best first, after per-class NMS."""
        w, h, scale = prepared.width, prepared.height, prepared.scale
        boxes, scores, classes = [], [], []
        for k, stride in enumerate(self._outputs):
            cls = raw[2 * k][0]
            anchor, label = np.nonzero(cls >= self.score_threshold)
            if anchor.size == 0:
                continue
            dist = raw[2 * k + 1][0][anchor].reshape(-1, 4, BINS)
            dist = np.exp(dist - dist.max(axis=2, keepdims=True))
            dist = (dist @ self._bins) / dist.sum(axis=2) * stride
            centre = self._centres[stride][anchor]
            boxes.append(np.concatenate([centre - dist[:, :2], centre + dist[:, 2:]], axis=1))
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
