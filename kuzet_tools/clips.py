"""Reading a short clip (the CC BY 4.0 GIFs in ``kuzet_tools/footage``, vtest.avi) whole."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_clip(path: str | Path) -> tuple[list[np.ndarray], float]:
    """Every frame of the clip (BGR) and its frame rate (10 when the file gives none), read
    with OpenCV; FileNotFoundError when no frame can be read."""
    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        frames = []
        while True:
            ok, image = cap.read()
            if not ok:
                break
            frames.append(image)
    finally:
        cap.release()
    if not frames:
        raise FileNotFoundError(f"cannot read any frame of {path}")
    return frames, fps if fps > 0 else 10.0
