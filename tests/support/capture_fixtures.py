"""pytest fixtures for the capture tests (a plugin of tests/conftest.py): a fake clock, a real
photo, and a short clip cut from real footage."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fakes.clock import FakeClock
from tests.support.footage import OPENCV_DATA

__all__ = ["CLIP_FRAMES", "clip", "clock", "photo"]

CLIP_FRAMES = 12


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return cv2.imread(str(OPENCV_DATA / "messi5.jpg"))


@pytest.fixture(scope="session")
def clip(tmp_path_factory, vtest_avi) -> Path:
    """The first frames of vtest.avi, re-encoded as a short 10 fps MJPEG clip."""
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    cap = cv2.VideoCapture(str(vtest_avi))
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for _ in range(CLIP_FRAMES):
        out.write(cap.read()[1])
    out.release()
    cap.release()
    return path
