"""``FakePicamera2``: a test double with the shape of ``picamera2.Picamera2``.

It shows a fixed BGR ``scene`` (a real photo, or a solid colour): ``main`` is the scene scaled
to the main size in picamera2's ``RGB888`` byte order (B, G, R), ``lores`` is the scene scaled
to the lores size as planar YUV420 (I420, BT.601 limited range) with shape ``(h*3//2, stride)``,
computed here with plain numpy so the adapter's conversion is checked against the formula, not
against OpenCV's own inverse. ``fail_after`` makes captures fail like an unplugged camera.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def bgr_to_i420(bgr: np.ndarray, stride: int | None = None) -> np.ndarray:
    """BT.601 limited-range I420 of an even-sized BGR image, rows padded to ``stride``."""
    h, w = bgr.shape[:2]
    stride = stride or w
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255

    def sub(plane: np.ndarray) -> np.ndarray:  # 2x2 average: chroma at half resolution
        return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    out = np.zeros((h * 3 // 2, stride), np.uint8)
    out[:h, :w] = np.clip(np.rint(y), 0, 255)
    half = stride // 2  # each chroma row is half a stride; two of them share an array row
    for top, plane in ((h, sub(u)), (h + h // 4, sub(v))):
        rows = np.zeros((h // 2, half), np.uint8)
        rows[:, :w // 2] = np.clip(np.rint(plane), 0, 255)
        out[top:top + h // 4] = rows.reshape(h // 4, stride)
    return out


def missing_camera() -> Any:
    """A camera factory that fails the way ``Picamera2()`` does with no camera attached."""
    raise IndexError("list index out of range")


class FakePicamera2:
    """Records calls in ``calls``; enforces configure-before-start and start-before-capture."""

    def __init__(self, scene: np.ndarray, *, lores_stride: int | None = None,
                 fail_after: int | None = None) -> None:
        self.scene = scene
        self.lores_stride = lores_stride
        self.fail_after = fail_after
        self.calls: list[str] = []
        self.config: dict | None = None
        self.started = False
        self.closed = False
        self.captures = 0

    def create_video_configuration(self, main: dict | None = None, lores: dict | None = None,
                                   controls: dict | None = None, **kwargs: Any) -> dict:
        self.calls.append("create_video_configuration")
        return {"main": dict(main or {}), "lores": None if lores is None else dict(lores),
                "controls": dict(controls or {}), **kwargs}

    def configure(self, config: dict) -> None:
        self.calls.append("configure")
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if config["main"].get("format") != "RGB888":
            raise RuntimeError(f"double supports main RGB888 only, got {config['main']}")
        lores = config["lores"]
        if lores is not None and (lores.get("format") != "YUV420"
                                  or any(v % 2 for v in lores["size"])):
            raise RuntimeError(f"lores must be YUV420 with even size, got {lores}")
        self.config = config

    def start(self) -> None:
        self.calls.append("start")
        if self.config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def stop(self) -> None:
        self.calls.append("stop")
        self.started = False

    def close(self) -> None:
        self.calls.append("close")
        self.closed = True

    def _make(self, name: str) -> np.ndarray:
        assert self.config is not None
        stream = self.config[name]
        if stream is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        w, h = stream["size"]
        picture = cv2.resize(self.scene, (w, h), interpolation=cv2.INTER_AREA)
        return picture if name == "main" else bgr_to_i420(picture, self.lores_stride)

    def _capture(self) -> None:
        self.calls.append("capture")
        if not self.started:
            raise RuntimeError("Camera is not running")
        if self.fail_after is not None and self.captures >= self.fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        self.captures += 1

    def capture_array(self, name: str = "main", wait: Any = None) -> np.ndarray:
        self._capture()
        return self._make(name)

    def capture_arrays(self, names: list[str] | None = None,
                       wait: Any = None) -> tuple[list[np.ndarray], dict]:
        self._capture()
        return [self._make(n) for n in names or ["main"]], {"SensorTimestamp": self.captures}
