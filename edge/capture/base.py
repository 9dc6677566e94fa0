"""The frame-source interface: one frozen ``Frame`` type and one small ``FrameSource`` ABC.

Every camera, stream, video file and image folder sits behind ``FrameSource``; the
``ResilientSource`` supervisor turns any of them into an endless, self-healing stream.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import cv2
import numpy as np

from kuzet.errors import SourceError

Clock = Callable[[], float]
"""Returns monotonic seconds (``time.monotonic`` in production, a fake in tests)."""

Sleep = Callable[[float], object]
"""Blocks for the given seconds (``time.sleep``, or ``stop_event.wait`` to stay stoppable)."""


@dataclass(frozen=True)
class Frame:
    """One captured picture.

    ``image`` is the detection stream: an ``HxWx3`` uint8 BGR array (the low-resolution stream
    on the Pi, else the frame itself). ``main`` is a higher-resolution BGR picture of the same
    moment for evidence, when the source has one; use ``image`` when it is ``None``.
    """

    image: np.ndarray
    seq: int
    t_mono: float
    t_wall: float
    main: np.ndarray | None = None

    @property
    def evidence(self) -> np.ndarray:
        """The best picture for evidence: ``main`` when there is one, else ``image``."""
        return self.image if self.main is None else self.main


class EndOfStream(SourceError):
    """A video file or image folder has no more frames (and is not set to loop)."""


class FrameSource(ABC):
    """A camera, stream, file or folder. Not thread-safe: one reader at a time.

    ``open`` and ``read`` raise ``SourceError`` with a message naming the source and what
    went wrong; ``read`` raises ``EndOfStream`` at the end of a file or folder. ``close`` is
    safe to call more than once and after a failed ``open``.
    """

    name: str

    @abstractmethod
    def open(self) -> None:
        """Acquire the device, connection or file."""

    @abstractmethod
    def read(self) -> Frame:
        """Block until the next frame is available and return it."""

    @abstractmethod
    def close(self) -> None:
        """Release everything ``open`` acquired."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Pacer:
    """Keeps frames at most ``fps`` per second; ``fps=None`` means no limit.

    ``wait_turn`` sleeps until the next frame is due (files and folders: replay in real time);
    ``take`` never sleeps and says whether a frame arriving now should be kept (live sources:
    drop surplus frames rather than let a camera's buffer go stale). After a stall longer than
    one period the schedule restarts, so there is never a burst of catch-up frames.
    """

    def __init__(self, fps: float | None, *, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._clock = clock
        self._sleep = sleep
        self._due: float | None = None

    def reset(self) -> None:
        """Forget the schedule (the next frame is due at once)."""
        self._due = None

    def wait_turn(self) -> None:
        """Sleep until the next frame is due, then book the one after it."""
        if not self.period:
            return
        now = self._clock()
        if self._due is not None and now < self._due:
            self._sleep(self._due - now)
        elif self._due is None or now - self._due > self.period:
            self._due = now
        self._due += self.period

    def take(self) -> bool:
        """True if a frame arriving now is due (a quarter period early still counts)."""
        if not self.period:
            return True
        now = self._clock()
        if self._due is not None and now < self._due - self.period / 4:
            return False
        if self._due is None or now - self._due > self.period:
            self._due = now
        self._due += self.period
        return True


def as_bgr(image: np.ndarray, where: str) -> np.ndarray:
    """Return ``image`` as ``HxWx3`` uint8 BGR (grey and BGRA are converted)."""
    if image.dtype != np.uint8:
        raise SourceError(f"{where}: expected 8-bit pixels, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise SourceError(f"{where}: unexpected image shape {image.shape}")
