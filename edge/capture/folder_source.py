"""``FolderSource``: still images from a folder, in name order, at a fixed rate."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import cv2
import numpy as np

from edge.capture.base import Clock, EndOfStream, Frame, FrameSource, Pacer, Sleep, as_bgr
from kuzet.errors import SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


def natural_key(path: Path) -> list[int | str]:
    """Sort key putting ``frame2.jpg`` before ``frame10.jpg``."""
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", path.name)]


class FolderSource(FrameSource):
    """Images (``IMAGE_SUFFIXES``, any case) from ``path`` in natural name order (``2`` before
    ``10``), ``fps`` per second.

    Other files are skipped with one warning at ``open``; an image that cannot be decoded is
    skipped with a warning. At the end: ``EndOfStream``, or start again if ``loop``. The
    folder is listed once per ``open``; images are decoded one at a time in ``read``.
    """

    def __init__(self, path: str | Path, *, fps: float | None = 2.0, loop: bool = False,
                 clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                 wall_clock: Clock = time.time) -> None:
        self.path = Path(path)
        self.name = f"folder:{self.path}"
        self.loop = loop
        self._clock = clock
        self._wall = wall_clock
        self._pacer = Pacer(fps, clock=clock, sleep=sleep)
        self._files: list[Path] = []
        self._next = 0
        self._seq = 0

    def open(self) -> None:
        """List the images; raises ``SourceError`` if the folder is missing or has none."""
        if not self.path.is_dir():
            raise SourceError(f"image folder {self.path} not found")
        entries = sorted((p for p in self.path.iterdir() if p.is_file()), key=natural_key)
        self._files = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
        others = [p.name for p in entries if p.suffix.lower() not in IMAGE_SUFFIXES]
        if others:
            shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5
                                             else "")
            log.warning("image folder %s: ignoring %d non-image file(s): %s (images end in %s)",
                        self.path, len(others), shown, " ".join(sorted(IMAGE_SUFFIXES)))
        if not self._files:
            raise SourceError(f"image folder {self.path} has no images "
                              f"({' '.join(sorted(IMAGE_SUFFIXES))})")
        self._next = 0
        self._pacer.reset()
        log.info("opened image folder %s (%d images)", self.path, len(self._files))

    def read(self) -> Frame:
        """Decode and return the next image, after waiting for its turn."""
        if not self._files:
            raise SourceError(f"image folder {self.path} is not open")
        self._pacer.wait_turn()
        image = self._next_image()
        self._seq += 1
        return Frame(image=as_bgr(image, self.name), seq=self._seq, t_mono=self._clock(),
                     t_wall=self._wall())

    def _next_image(self) -> np.ndarray:
        skipped = 0
        while skipped < len(self._files):
            if self._next >= len(self._files):
                if not self.loop:
                    raise EndOfStream(f"end of image folder {self.path} "
                                      f"({len(self._files)} images)")
                self._next = 0
            path = self._files[self._next]
            self._next += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            log.warning("image folder %s: cannot decode %s, skipping it", self.path, path.name)
            skipped += 1
        raise SourceError(f"image folder {self.path}: none of its images can be decoded")

    def close(self) -> None:
        """Forget the listing (safe to repeat)."""
        self._files = []
