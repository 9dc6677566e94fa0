"""Merging detections from several looks: class-wise NMS, and phones by containment too.

The phone finder's first look, its second looks, a second detector and the node's seat looks
on a still all see the same phone several times, with boxes that differ: the phone, its screen
only, the phone with its hand. :func:`merge` keeps one box per object.
"""

from __future__ import annotations

import numpy as np

from edge.models.base import Detection
from edge.models.nms import nms

PHONE = "cell phone"
PHONE_INSIDE = 0.5    # a phone box this much inside a better one is the same phone


def _inside(box, other) -> float:
    """How much of the smaller of two boxes lies in the other (0..1)."""
    w = min(box[2], other[2]) - max(box[0], other[0])
    h = min(box[3], other[3]) - max(box[1], other[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((box[2] - box[0]) * (box[3] - box[1]),
                  (other[2] - other[0]) * (other[3] - other[1]))
    return float(w * h / max(1e-6, smaller))


def merge(dets: list[Detection], iou_threshold: float = 0.5,
          phone_inside: float = PHONE_INSIDE) -> list[Detection]:
    """Class-wise NMS over detections from several looks, best first. Phones also go by
    containment: a ``cell phone`` box lying ``phone_inside`` or more inside a better phone's
    box (or around it) is the same phone seen as its screen only, or with the hand holding
    it, and is dropped (on phones-dev's tune part such boxes were most of the false phones);
    ``phone_inside`` above 1 turns that off."""
    if not dets:
        return []
    labels = sorted({d.label for d in dets})
    boxes = np.array([d.box for d in dets], np.float32)
    scores = np.array([d.score for d in dets], np.float32)
    classes = np.array([labels.index(d.label) for d in dets])
    kept = [dets[i] for i in nms(boxes, scores, iou_threshold, classes, 300)]
    if phone_inside > 1:
        return kept
    out: list[Detection] = []
    for d in kept:
        if d.label == PHONE and any(k.label == PHONE and _inside(d.box, k.box) >= phone_inside
                                    for k in out):
            continue
        out.append(d)
    return out
