"""Where a seat look's pixels come from: the detection stream, or the main stream.

A seat's crop is planned in the detection (lores) stream's pixels. When that crop is smaller
than ``below_px`` (by default the detector's input size, so the detector would enlarge it) and
the frame has a larger main picture of the same moment, the same region is cut from the main
picture instead: the detector sees real pixels rather than enlarged ones. What the models find
in the cut maps back to detection-stream pixels by one offset and one scale per axis::

    cut = cut_seat(seat.crop, frame.image, frame.main, below_px=416)
    dets = to_frame(detector.detect(cut.pixels), cut)     # in frame.image pixels
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.models.base import Detection, Face
from edge.models.pose import Pose

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SeatCut:
    """The pixels of one look, and how to map its boxes to detection-stream pixels:
    ``frame = offset + cut / scale`` (``scale`` is cut pixels per frame pixel, per axis)."""

    pixels: np.ndarray
    offset: tuple[float, float] = (0.0, 0.0)
    scale: tuple[float, float] = (1.0, 1.0)

    @property
    def from_main(self) -> bool:
        return self.scale != (1.0, 1.0)


def cut_seat(crop: tuple[int, int, int, int], image: np.ndarray, main: np.ndarray | None,
             below_px: int) -> SeatCut:
    """The crop ``(x1, y1, x2, y2)`` of ``image``; or, when its shorter side is below
    ``below_px`` (0: never) and ``main`` is larger than ``image``, the same region of
    ``main``."""
    x1, y1, x2, y2 = crop
    if main is None or min(x2 - x1, y2 - y1) >= below_px:
        return SeatCut(image[y1:y2, x1:x2], (float(x1), float(y1)))
    h, w = image.shape[:2]
    mh, mw = main.shape[:2]
    sx, sy = mw / w, mh / h
    if sx <= 1.0 and sy <= 1.0:
        return SeatCut(image[y1:y2, x1:x2], (float(x1), float(y1)))
    mx1, my1 = round(x1 * sx), round(y1 * sy)
    mx2, my2 = min(mw, round(x2 * sx)), min(mh, round(y2 * sy))
    # the cut's own corners, so that rounding never shifts the boxes mapped back
    return SeatCut(main[my1:my2, mx1:mx2], (mx1 / sx, my1 / sy), (sx, sy))


def box_to_frame(box: Sequence[float], offset: tuple[float, float],
                 scale: tuple[float, float]) -> Box:
    (dx, dy), (sx, sy) = offset, scale
    return (box[0] / sx + dx, box[1] / sy + dy, box[2] / sx + dx, box[3] / sy + dy)


def to_frame(detections: Sequence[Detection], cut: SeatCut) -> list[Detection]:
    """Detections in the cut's pixels -> detection-stream pixels."""
    return [Detection(d.label, d.score, box_to_frame(d.box, cut.offset, cut.scale))
            for d in detections]


def face_to_frame(face: Face, offset: tuple[float, float], scale: tuple[float, float]) -> Face:
    """One face's box and keypoints moved and scaled as :func:`box_to_frame` (yaw unchanged)."""
    (dx, dy), (sx, sy) = offset, scale
    points = None if face.keypoints is None else tuple(
        (x / sx + dx, y / sy + dy) for x, y in face.keypoints)
    return Face(face.score, box_to_frame(face.box, offset, scale), face.yaw, points)


def faces_to_frame(faces: Sequence[Face], cut: SeatCut) -> list[Face]:
    """Faces in the cut's pixels -> detection-stream pixels (yaw is unchanged; the keypoints,
    which the face embedder aligns by, move with the box)."""
    return [face_to_frame(f, cut.offset, cut.scale) for f in faces]


def pose_to_frame(pose: Pose, cut: SeatCut) -> Pose:
    """A pose in the cut's pixels -> detection-stream pixels (the scores are unchanged)."""
    (dx, dy), (sx, sy) = cut.offset, cut.scale
    keypoints = np.array(pose.keypoints, dtype=np.float32)
    keypoints[:, 0] = keypoints[:, 0] / sx + dx
    keypoints[:, 1] = keypoints[:, 1] / sy + dy
    keypoints.flags.writeable = False
    return Pose(keypoints)
