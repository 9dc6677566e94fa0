"""Read the JPEG frames out of an MJPEG AVI clip (what the node sends), so a tablet browser,
which cannot play MJPEG AVI, can show the clip frame by frame. Pure Python, no codecs."""

from __future__ import annotations

import struct


def mjpeg_frames(data: bytes) -> tuple[list[tuple[int, int]], float]:
    """(offset, length) of every JPEG frame in the ``movi`` list, and the frame rate (0 if
    the header does not say)."""
    fps = 0.0
    avih = data.find(b"avih")
    if avih >= 0 and avih + 12 <= len(data):
        usec = struct.unpack_from("<I", data, avih + 8)[0]
        fps = 1e6 / usec if usec else 0.0
    movi = data.find(b"movi")
    frames: list[tuple[int, int]] = []
    if movi < 0:
        return frames, fps
    pos = movi + 4
    while pos + 8 <= len(data):
        chunk = data[pos:pos + 4]
        size = struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"LIST":                  # a 'rec ' list inside movi: step into it
            pos += 12
            continue
        if chunk == b"idx1":
            break
        start = pos + 8
        if chunk[2:] in (b"dc", b"db") and data[start:start + 2] == b"\xff\xd8" \
                and start + size <= len(data):
            frames.append((start, size))
        pos = start + size + (size & 1)
    return frames, fps
