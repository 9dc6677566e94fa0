"""The detection stack on still images (``kuzet edge detect``): objects, faces and yaw.

``look="node"`` (the default) judges a photo as the node would (``edge/still_look.py``: the
room look, then a look at each seat's crop, faces in those crops; ``seats`` says where the
seats come from: the people found, a grid of seat-sized cells, or both); ``look="whole"``
runs the detector on the whole image (plus ``tiles``) and the face detector on it once.

Phones are reported as ``cell phone`` with the phone's own box (``edge/models/phones.py``):
by default ``remote`` counts as a phone and a phone on a book's box is a book (``"remote"``);
``phones="hands"`` adds the second look at each hand, ``phones="off"`` is the stock detector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge.models.base import Detection, Detector
from edge.models.factory import DetectionChoice, PhoneMode, create_detectors
from edge.models.phones import merge
from edge.models.registry import DEFAULT_DETECTOR
from edge.seat_cut import SeatCut, to_frame
from edge.still_look import SEAT_PX, SeatSource, look_like_node

Look = Literal["node", "whole"]


def tiles(w: int, h: int, n: int, overlap: float = 0.2) -> list[tuple[int, int, int, int]]:
    """An n×n grid of overlapping tiles covering the image."""
    tw, th = w / (n - overlap * (n - 1)), h / (n - overlap * (n - 1))
    out = []
    for r in range(n):
        for c in range(n):
            x1, y1 = int(c * tw * (1 - overlap)), int(r * th * (1 - overlap))
            out.append((x1, y1, min(w, int(x1 + tw)), min(h, int(y1 + th))))
    return out


def detect_with_tiles(detector: Detector, image: np.ndarray, n: int) -> list[Detection]:
    """The whole image, plus an n×n grid of tiles, merged with class-wise NMS."""
    dets = list(detector.detect(image))
    if n > 1:
        h, w = image.shape[:2]
        for x1, y1, x2, y2 in tiles(w, h, n):
            tile = SeatCut(image[y1:y2, x1:x2], (x1, y1))
            dets += to_frame(detector.detect(tile.pixels), tile)
    return merge(dets)


def detect_images(paths: list[Path], model: str | None = None, threshold: float = 0.3,
                  tiles: int = 0, phones: PhoneMode = "remote", look: Look = "node",
                  lores: tuple[int, int] | None = None, seats: SeatSource | None = None,
                  seat_px: float | None = None, phone_options: dict | None = None
                  ) -> list[dict]:
    """Objects (phones as ``cell phone``) and faces with yaw for each image, as dicts, boxes
    in the image's pixels. ``lores`` (node look only) is the detection stream's size the image
    is shrunk to for the room look; seats too small there are cut from the image itself.
    ``seats`` and ``seat_px`` (node look only; default ``"both"`` and
    :data:`edge.still_look.SEAT_PX`) choose the seats (:func:`edge.still_look.look_like_node`).
    ``phone_options`` overrides the node's phone operating point (``second_detector``,
    ``phone_threshold``, ``second_threshold``: :class:`edge.models.factory.DetectionChoice`)."""
    if look == "whole" and lores is not None:
        raise ValueError("--lores is for --look node")
    if look == "whole" and (seats is not None or seat_px is not None):
        raise ValueError("--seats and --seat-px are for --look node")
    if seat_px is not None and seat_px < 16:
        raise ValueError(f"--seat-px must be at least 16, not {seat_px}")
    if look == "node" and tiles > 1:
        raise ValueError("--tiles is for --look whole")
    detector, faces = create_detectors(DetectionChoice(
        model=model or DEFAULT_DETECTOR, phones=phones, score_threshold=threshold,
        **(phone_options or {})))
    assert faces is not None
    out = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            out.append({"image": str(path), "error": f"{path}: not a readable image"})
            continue
        if look == "node":
            dets, found = look_like_node(image, detector, faces, lores=lores,
                                         seats=seats or "both", seat_px=seat_px or SEAT_PX)
        else:
            dets, found = detect_with_tiles(detector, image, tiles), faces.detect(image)
        out.append({"image": str(path), "look": look, "detections": [d.as_dict() for d in dets],
                    "faces": [f.as_dict() for f in found]})
    return out
