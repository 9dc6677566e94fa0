"""Where the tests' real pictures are: Debian's opencv-doc examples (photos, and the street
footage ``vtest.avi`` with walking people); and a clip made of given JPEG frames."""

from __future__ import annotations

import struct
from pathlib import Path

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
VTEST_AVI = OPENCV_DATA / "vtest.avi"


def mjpeg_avi(frames: list[bytes], fps: float = 4.0) -> bytes:
    """A minimal MJPEG AVI: the main header's frame time and the frames in ``movi``."""
    avih = b"avih" + struct.pack("<II", 56, int(1e6 / fps)) + bytes(52)
    movi = b"movi" + b"".join(b"00dc" + struct.pack("<I", len(f)) + f + b"\0" * (len(f) & 1)
                              for f in frames)
    body = b"AVI " + b"LIST" + struct.pack("<I", len(avih) + 4) + b"hdrl" + avih + \
        b"LIST" + struct.pack("<I", len(movi)) + movi
    return b"RIFF" + struct.pack("<I", len(body)) + body
