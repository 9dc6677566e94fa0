"""Privacy in evidence: faces other than the student at the flagged seat are blurred.

The snapshot is the whole room; only the student at the flagged seat is the subject of the
alert. Faces are found on overlapping tiles of the evidence image (far faces are too small for
the face detector at full frame) and every face whose centre is not in the seat is blurred
beyond recognition. The same boxes, a little enlarged, are blurred in the clip's frames.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from edge.models.base import FaceDetector
from edge.models.nms import nms

Box = tuple[float, float, float, float]


def tiles(w: int, h: int, size: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Square tiles of ``size`` covering the image, overlapping by ``overlap``."""
    if w <= size and h <= size:
        return [(0, 0, w, h)]
    step = max(1, int(size * (1 - overlap)))
    xs = list(range(0, max(1, w - size), step)) + [max(0, w - size)]
    ys = list(range(0, max(1, h - size), step)) + [max(0, h - size)]
    return [(x, y, min(w, x + size), min(h, y + size)) for y in sorted(set(ys))
            for x in sorted(set(xs))]


class FaceBlur:
    def __init__(self, detector: FaceDetector, tile: int = 480) -> None:
        self.detector = detector      # its own instance: interpreters are not shared by threads
        self.tile = tile

    def faces(self, image: np.ndarray) -> list[Box]:
        h, w = image.shape[:2]
        boxes, scores = [], []
        for x1, y1, x2, y2 in tiles(w, h, self.tile):
            for f in self.detector.detect(image[y1:y2, x1:x2]):
                b = f.box
                boxes.append((b[0] + x1, b[1] + y1, b[2] + x1, b[3] + y1))
                scores.append(f.score)
        if not boxes:
            return []
        keep = nms(np.array(boxes, np.float32), np.array(scores, np.float32), 0.3,
                   max_out=500)
        return [boxes[i] for i in keep]

    def blur(self, image: np.ndarray, keep: Callable[[float, float], bool],
             boxes: list[Box] | None = None) -> tuple[np.ndarray, list[Box]]:
        """A copy of ``image`` with every face whose centre fails ``keep(x, y)`` blurred;
        also returns the blurred boxes (to apply to other frames of the same moment)."""
        if boxes is None:
            boxes = self.faces(image)
        out = image.copy()
        blurred = []
        for b in boxes:
            if keep((b[0] + b[2]) / 2, (b[1] + b[3]) / 2):
                continue
            blurred.append(b)
            blur_box(out, b)
        return out, blurred


def blur_boxes(boxes: list[Box]) -> Callable[[np.ndarray], None]:
    """A frame editor that blurs ``boxes`` (for the frames of a clip)."""
    def apply(frame: np.ndarray) -> None:
        for b in boxes:
            blur_box(frame, b)
    return apply


def blur_box(image: np.ndarray, box: Box, grow: float = 0.25) -> None:
    """Pixelate then blur ``box`` (enlarged by ``grow``) in place."""
    h, w = image.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x1, y1 = max(0, int(box[0] - bw * grow)), max(0, int(box[1] - bh * grow))
    x2, y2 = min(w, int(box[2] + bw * grow)), min(h, int(box[3] + bh * grow))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return
    region = image[y1:y2, x1:x2]
    small = cv2.resize(region, (max(1, (x2 - x1) // 12), max(1, (y2 - y1) // 12)),
                       interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    k = max(3, ((x2 - x1) // 6) | 1)
    image[y1:y2, x1:x2] = cv2.GaussianBlur(coarse, (k, k), 0)
