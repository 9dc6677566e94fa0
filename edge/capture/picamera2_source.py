"""``Picamera2Source``: the Raspberry Pi camera, with a main and a low-resolution stream.

This is the only module that imports ``picamera2``, and only inside ``open()``: everything
else (and this module's import) works on machines without libcamera.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from edge.capture.base import Clock, Frame, FrameSource
from kuzet.errors import SourceError

log = logging.getLogger(__name__)


def i420_to_bgr(yuv: np.ndarray, width: int) -> np.ndarray:
    """Convert picamera2's YUV420 array (``(h*3//2, stride)``) to ``h x width`` BGR.

    picamera2 leaves any row padding in (stride >= width); it is cut off after conversion.
    """
    bgr = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)
    return bgr if bgr.shape[1] == width else np.ascontiguousarray(bgr[:, :width])


class Picamera2Source(FrameSource):
    """Frames from ``picamera2.Picamera2``: ``main`` (evidence) and ``lores`` (detection).

    ``main`` is configured as picamera2's ``RGB888``, whose bytes are in B, G, R order, so it
    is already OpenCV's BGR. ``lores`` is ``YUV420`` (what every Pi can scale down in
    hardware) and is converted to BGR here. Both come from the same sensor frame.
    ``camera_factory`` replaces ``picamera2.Picamera2`` (a test double, another camera
    number); ``capture_timeout_s`` turns a hung camera into a ``SourceError``.
    """

    name = "picamera2"

    def __init__(self, main_size: tuple[int, int] = (1920, 1080),
                 lores_size: tuple[int, int] = (640, 360), fps: float = 10.0, *,
                 camera_factory: Callable[[], Any] | None = None,
                 capture_timeout_s: float = 5.0, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time) -> None:
        self.main_size = tuple(main_size)
        self.lores_size = tuple(lores_size)
        self.fps = fps
        self.capture_timeout_s = capture_timeout_s
        self._camera_factory = camera_factory
        self._clock = clock
        self._wall = wall_clock
        self._camera: Any = None
        self._seq = 0

    def _factory(self) -> Callable[[], Any]:
        if self._camera_factory is not None:
            return self._camera_factory
        try:
            from picamera2 import Picamera2  # the one place picamera2 is imported
        except ImportError as e:
            raise SourceError("picamera2 is not installed (on Raspberry Pi OS: "
                              "apt install python3-picamera2)") from e
        return Picamera2

    def open(self) -> None:
        """Start the camera; raises ``SourceError`` if it is missing, busy or rejects the mode."""
        self.close()
        factory = self._factory()
        frame_us = round(1_000_000 / self.fps)
        try:
            self._camera = factory()
            config = self._camera.create_video_configuration(
                main={"size": self.main_size, "format": "RGB888"},
                lores={"size": self.lores_size, "format": "YUV420"},
                controls={"FrameDurationLimits": (frame_us, frame_us)})
            self._camera.configure(config)
            self._camera.start()
        except Exception as e:  # libcamera raises assorted types for a missing or busy camera
            self.close()
            raise SourceError(f"cannot start the Raspberry Pi camera (main {self.main_size}, "
                              f"lores {self.lores_size}, {self.fps:g} fps): {e!r} "
                              "(not connected, in use by another process, or mode "
                              "unsupported?)") from e
        log.info("opened picamera2: main %s, lores %s, %g fps", self.main_size,
                 self.lores_size, self.fps)

    def read(self) -> Frame:
        """Capture one request and return its lores (as ``image``) and main streams."""
        if self._camera is None:
            raise SourceError("Raspberry Pi camera is not open")
        try:
            (main, lores), _metadata = self._camera.capture_arrays(
                ["main", "lores"], wait=self.capture_timeout_s)
        except Exception as e:  # TimeoutError, RuntimeError from libcamera, …
            raise SourceError(f"Raspberry Pi camera stopped delivering frames: {e!r}") from e
        t_mono, t_wall = self._clock(), self._wall()
        (w, h), (lw, lh) = self.main_size, self.lores_size
        if main.shape != (h, w, 3):
            raise SourceError(f"Raspberry Pi camera: main stream shape {main.shape}, "
                              f"expected {(h, w, 3)}")
        if lores.ndim != 2 or lores.shape[0] != lh * 3 // 2 or lores.shape[1] < lw:
            raise SourceError(f"Raspberry Pi camera: lores stream shape {lores.shape}, "
                              f"expected YUV420 {(lh * 3 // 2, lw)}")
        self._seq += 1
        return Frame(image=i420_to_bgr(lores, lw), seq=self._seq,
                     t_mono=t_mono, t_wall=t_wall, main=main)

    def close(self) -> None:
        """Stop and close the camera, ignoring errors from a camera that is already gone."""
        camera, self._camera = self._camera, None
        if camera is None:
            return
        for step in (camera.stop, camera.close):
            try:
                step()
            except Exception:  # a vanished camera can fail to stop; close regardless
                log.warning("picamera2 %s failed", step.__name__, exc_info=True)
