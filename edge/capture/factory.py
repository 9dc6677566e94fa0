"""``open_source``: the frame source a config describes, built but not opened.

Each source module (and the library it needs: OpenCV, picamera2) is imported only when its
kind is asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from edge.capture.base import Clock, FrameSource, Sleep
from edge.capture.config import FolderConfig, OpenCvConfig, Picamera2Config, SourceConfig


def open_source(cfg: SourceConfig, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                camera_factory: Callable[[], Any] | None = None,
                wall_clock: Clock = time.time) -> FrameSource:
    """Build (but do not open) the source ``cfg`` describes.

    ``sleep`` paces files and folders; pass ``stop_event.wait`` so a stop is not delayed by a
    slow frame rate. ``camera_factory`` replaces ``picamera2.Picamera2`` (tests, other cameras).
    ``wall_clock`` stamps each frame's ``t_wall`` (evidence times); ``clock`` is monotonic.
    """
    if isinstance(cfg, Picamera2Config):
        from edge.capture.picamera2_source import Picamera2Source

        return Picamera2Source(cfg.main_size, cfg.lores_size, cfg.fps,
                               camera_factory=camera_factory, clock=clock,
                               wall_clock=wall_clock)
    if isinstance(cfg, OpenCvConfig):
        from edge.capture.opencv_source import OpenCvSource

        return OpenCvSource(cfg.uri, fps=cfg.fps, loop=cfg.loop, timeout_s=cfg.timeout_s,
                            clock=clock, sleep=sleep, wall_clock=wall_clock)
    if isinstance(cfg, FolderConfig):
        from edge.capture.folder_source import FolderSource

        return FolderSource(cfg.path, fps=cfg.fps, loop=cfg.loop, clock=clock, sleep=sleep,
                            wall_clock=wall_clock)
    raise TypeError(f"not a source config: {cfg!r}")
