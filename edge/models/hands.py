"""Where the hands are, from pose keypoints: the squares a phone held in a hand would be in.

MediaPipe's palm detector (``edge/models/palm.py``) finds open palms, not the hand closed
around a phone. A pose model (MoveNet, ``edge/models/pose.py``) places the wrists whatever
the hand holds. :func:`wrist_regions` turns a pose into up to two squares, one per confident
wrist, pushed a third of the forearm beyond the wrist towards the fingers, with a side of
1.8 shoulder widths (at least 48 px), clipped to the image.
"""

from __future__ import annotations

import numpy as np

from edge.models.pose import KEYPOINTS, Pose

ARMS = (("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"))
_I = {name: i for i, name in enumerate(KEYPOINTS)}


def wrist_regions(pose: Pose, width: int, height: int, *, min_score: float = 0.2,
                  reach: float = 0.3, side_shoulders: float = 1.8, min_side: int = 48
                  ) -> list[tuple[int, int, int, int]]:
    """The hand squares of ``pose`` (keypoints in an image ``width`` x ``height``)."""
    k = pose.keypoints
    ls, rs = k[_I["left_shoulder"]], k[_I["right_shoulder"]]
    if min(ls[2], rs[2]) >= min_score:
        shoulders = float(np.hypot(ls[0] - rs[0], ls[1] - rs[1]))
    else:
        shoulders = min(width, height) / 3
    half = max(min_side, side_shoulders * shoulders) / 2
    out = []
    for wrist, elbow in ARMS:
        w, e = k[_I[wrist]], k[_I[elbow]]
        if w[2] < min_score:
            continue
        x, y = float(w[0]), float(w[1])
        if e[2] >= min_score:
            x, y = x + reach * (x - float(e[0])), y + reach * (y - float(e[1]))
        x1, y1 = int(max(0, x - half)), int(max(0, y - half))
        x2, y2 = int(min(width, x + half)), int(min(height, y + half))
        if x2 - x1 >= 8 and y2 - y1 >= 8:
            out.append((x1, y1, x2, y2))
    return out
