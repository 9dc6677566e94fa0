"""Where the tests' real pictures are: Debian's opencv-doc examples (photos, and the street
footage ``vtest.avi`` with walking people)."""

from __future__ import annotations

from pathlib import Path

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
VTEST_AVI = OPENCV_DATA / "vtest.avi"
