"""MediaPipe palm detector (``palm_detection_lite.tflite``) decoder: where the hands are.

The model takes ``[1, 192, 192, 3]`` float32 RGB in [0, 1] (letterboxed, zero padding) and
gives, for 2016 anchors, 18 regressors (palm box centre and size, then seven keypoints: wrist,
the knuckles of the index, middle, ring and little fingers and two thumb joints) in input
pixels relative to the anchor, and one score logit. The anchors follow MediaPipe's SSD anchor
settings for this model: strides 8, 16, 16, 16 with two anchors per layer and cell, all of
size one, so a 24x24 grid with 2 anchors per cell and a 12x12 grid with 6.

The palm box covers the palm only. :func:`hand_region` turns it into the square region that
holds the whole hand and whatever it holds (a phone), which is where a second look goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Prepared
from edge.models.manifest import open_model
from edge.models.nms import nms

SIZE = 192
# (grid cells per side, anchors per cell), in the model's output order
GRIDS = ((24, 2), (12, 6))
WRIST, MIDDLE_KNUCKLE = 0, 2


@dataclass(frozen=True)
class Palm:
    """One palm: score, palm box and seven keypoints ``(7, 2)``, in source pixels."""

    score: float
    box: tuple[float, float, float, float]
    keypoints: np.ndarray


def _anchors() -> np.ndarray:
    """Anchor centres ``(2016, 2)`` in input pixels, in the model's order (row, column,
    anchor)."""
    out = []
    for cells, per_cell in GRIDS:
        ys, xs = np.mgrid[0:cells, 0:cells].astype(np.float32)
        centres = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0) * SIZE)
    return np.concatenate(out)


class PalmDetector:
    """Palms in an image, staged like the detectors (``prepare`` / ``infer`` / ``decode``).

    ``infer`` is the only stage that touches the interpreter; one instance serves one thread.
    """

    INPUT_SHAPE = (1, SIZE, SIZE, 3)

    def __init__(self, path: str | Path, *, name: str = "palm-detection-lite",
                 sha256: str | None = None, score_threshold: float = 0.5,
                 iou_threshold: float = 0.3, num_threads: int = 2, max_palms: int = 8) -> None:
        self.name = name
        self.path = Path(path)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_palms = max_palms
        self.input_size = SIZE
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        self._input_index = self._interp.get_input_details()[0]["index"]
        outs = {int(o["shape"][-1]): o["index"] for o in self._interp.get_output_details()}
        self._reg_index, self._score_index = outs[18], outs[1]
        self._anchors = _anchors()
        t = min(max(score_threshold, 1e-6), 1 - 1e-6)
        self._logit_threshold = float(np.log(t / (1 - t)))

    def prepare(self, image: np.ndarray) -> Prepared:
        """The model's input for ``image`` (HxWx3 uint8 BGR); a new array each call."""
        h, w = image.shape[:2]
        scale = SIZE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        tensor = np.zeros(self.INPUT_SHAPE, dtype=np.float32)
        tensor[0, :nh, :nw] = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        tensor *= 1.0 / 255.0
        return Prepared(tensor, scale, w, h)

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        """Run the model; ``[scores (1, 2016, 1), regressors (1, 2016, 18)]`` (copies)."""
        self._interp.set_tensor(self._input_index, prepared.tensor)
        self._interp.invoke()
        return [self._interp.get_tensor(self._score_index),
                self._interp.get_tensor(self._reg_index)]

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Palm]:
        """Palms in source pixels, best first, after NMS."""
        w, h, scale = prepared.width, prepared.height, prepared.scale
        logits = raw[0][0, :, 0]
        idx = np.nonzero(logits >= self._logit_threshold)[0]
        if idx.size == 0:
            return []
        reg = raw[1][0][idx]
        anchors = self._anchors[idx]
        centre = anchors + reg[:, 0:2]
        half = reg[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1) / scale
        keypoints = (reg[:, 4:18].reshape(-1, 7, 2) + anchors[:, None, :]) / scale
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[idx], -100, 100)))
        np.clip(boxes, 0, [w, h, w, h], out=boxes)
        keep = nms(boxes, scores, self.iou_threshold, max_out=self.max_palms)
        return [Palm(float(scores[i]), tuple(float(v) for v in boxes[i]), keypoints[i])
                for i in keep]

    def detect(self, image: np.ndarray) -> list[Palm]:
        """Palms in ``image`` (HxWx3 uint8 BGR), best first."""
        prepared = self.prepare(image)
        return self.decode(self.infer(prepared), prepared)


def hand_region(palm: Palm, width: int, height: int, scale: float = 3.0,
                shift: float = 0.5) -> tuple[int, int, int, int]:
    """The square around the whole hand: the palm box's longer side times ``scale``, centred
    ``shift`` palm-lengths from the palm's centre towards the fingers (wrist -> middle
    knuckle), clipped to the image. Integer pixels ``(x1, y1, x2, y2)``."""
    x1, y1, x2, y2 = palm.box
    side = max(x2 - x1, y2 - y1)
    direction = palm.keypoints[MIDDLE_KNUCKLE] - palm.keypoints[WRIST]
    norm = float(np.hypot(*direction))
    unit = direction / norm if norm > 1e-6 else np.zeros(2)
    cx = (x1 + x2) / 2 + unit[0] * shift * side
    cy = (y1 + y2) / 2 + unit[1] * shift * side
    half = side * scale / 2
    return (max(0, int(cx - half)), max(0, int(cy - half)),
            min(width, int(np.ceil(cx + half))), min(height, int(np.ceil(cy + half))))
