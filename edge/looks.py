"""From detections to looks: which person, object and face belongs to which seat.

A person or object belongs to the seat whose polygon holds the centre of its box. A person
centred in no seat whose box covers part of a seat is someone standing by that seat. A pose
(the pose estimator's keypoints on the seat's pixels) is the seat's student's when the middle
of its shoulders is in the seat: a seat's crop also shows some of its neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.models.base import Detection, Face
from edge.posture import SHOULDERS, posture
from edge.rules import RoomLook, SeatLook
from edge.seats import Seat, SeatMap


def _centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _overlap_fraction(box, seat: Seat) -> float:
    """How much of the seat's bounding box the person's box covers (0..1)."""
    sx1, sy1 = seat.polygon.min(axis=0)
    sx2, sy2 = seat.polygon.max(axis=0)
    w = min(box[2], sx2) - max(box[0], sx1)
    h = min(box[3], sy2) - max(box[1], sy1)
    area = max(1e-6, (sx2 - sx1) * (sy2 - sy1))
    return max(0.0, w) * max(0.0, h) / area


def seat_look(seat: Seat, seats: SeatMap, detections: Sequence[Detection],
              faces: Sequence[Face], t: float, *, outsider_overlap: float = 0.2,
              pose: np.ndarray | None = None) -> SeatLook:
    """What a look at ``seat`` found; boxes and the pose's ``(17, 3)`` keypoints (x, y,
    score) are in frame pixels. ``posture`` is None without a pose, or when the pose is not
    confident (``edge.posture.posture``) or not the seat's student's."""
    persons, outsiders, objects = [], [], []
    for d in detections:
        cx, cy = _centre(d.box)
        home = seats.seat_at(cx, cy)
        if d.label == "person":
            if home is seat:
                persons.append(d.score)
            elif home is None and _overlap_fraction(d.box, seat) >= outsider_overlap:
                outsiders.append(d.score)
        elif home is seat:
            objects.append((d.label, d.score))
    yaw = None
    mine = [f for f in faces if f.yaw is not None and seat.contains(*_centre(f.box))]
    if mine:
        biggest = max(mine, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        yaw = biggest.yaw
    return SeatLook(seat=seat.id, t=t, persons=tuple(persons), outsiders=tuple(outsiders),
                    objects=tuple(objects), yaw=yaw,
                    posture=_posture_score(seat, pose))


def _posture_score(seat: Seat, pose: np.ndarray | None) -> float | None:
    if pose is None:
        return None
    seen = posture(pose)                # the seat map draws no desk edge
    if seen is None:
        return None
    x, y = np.asarray(pose, dtype=np.float64)[list(SHOULDERS), :2].mean(axis=0)
    return seen.score if seat.contains(float(x), float(y)) else None


def room_look(detections: Sequence[Detection], t: float, min_score: float = 0.35) -> RoomLook:
    return RoomLook(t=t, persons=sum(1 for d in detections
                                     if d.label == "person" and d.score >= min_score))
