"""Box helpers shared by the decoders: IoU and (per-class) non-maximum suppression."""

from __future__ import annotations

import numpy as np


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(x1, y1, x2, y2)`` box against an ``(N, 4)`` array of boxes."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float,
        classes: np.ndarray | None = None, max_out: int = 100) -> np.ndarray:
    """Indices of the boxes kept, best first. With ``classes``, boxes of different classes
    never suppress each other (each class is shifted to its own region of the plane)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    work = boxes.astype(np.float32, copy=True)
    if classes is not None:
        span = float(work.max()) + 1.0
        work += (classes.astype(np.float32) * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_out:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        order = rest[iou(work[best], work[rest]) < iou_threshold]
    return np.asarray(keep, dtype=np.int64)
