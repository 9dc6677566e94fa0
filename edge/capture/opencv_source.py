"""``OpenCvSource``: V4L2/USB cameras, RTSP/HTTP streams and video files through OpenCV."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from edge.capture.base import Clock, EndOfStream, Frame, FrameSource, Pacer, Sleep, as_bgr
from edge.capture.uri import uri_kind
from kuzet.errors import SourceError

log = logging.getLogger(__name__)

MAX_PLAUSIBLE_FPS = 240.0


def redact(uri: str | int) -> str:
    """``uri`` fit for logs and status: a password in a stream URL is replaced by ``***``."""
    if isinstance(uri, int) or "://" not in uri:
        return str(uri)
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class OpenCvSource(FrameSource):
    """Frames from ``cv2.VideoCapture``.

    ``uri`` is a camera index (``0``) or device path (``/dev/video0``), a stream URL
    (``rtsp://…``, ``http://…``) or a video file. ``fps`` as in ``OpenCvConfig``: a number caps
    the rate, ``"native"`` replays a file at its own rate, ``None`` means no limit. A file
    raises ``EndOfStream`` at its end unless ``loop``; a camera or stream that stops
    delivering raises ``SourceError``. ``timeout_s`` bounds opening and reading a stream.
    """

    def __init__(self, uri: str | int, *, fps: float | Literal["native"] | None = "native",
                 loop: bool = False, timeout_s: float = 10.0, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep, wall_clock: Clock = time.time) -> None:
        self.uri = int(uri) if isinstance(uri, str) and uri.isdigit() else uri
        self.kind = uri_kind(uri)
        self.name = f"opencv:{redact(uri)}"
        self.fps = fps
        self.loop = loop
        self.timeout_s = timeout_s
        self._clock = clock
        self._wall = wall_clock
        self._sleep = sleep
        self._cap: cv2.VideoCapture | None = None
        self._pacer = Pacer(None)
        self._seq = 0

    def _what(self) -> str:
        noun = {"device": "camera", "stream": "stream", "file": "video file"}[self.kind]
        return f"{noun} {redact(self.uri)}"

    def _capture(self) -> cv2.VideoCapture:
        if self.kind == "stream":
            ms = int(self.timeout_s * 1000)
            return cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        return cv2.VideoCapture(self.uri)

    def open(self) -> None:
        """Open the camera, stream or file; raises ``SourceError`` naming it if that fails."""
        self.close()
        if isinstance(self.uri, str) and self.kind != "stream" and not Path(self.uri).exists():
            hint = " (unplugged?)" if self.kind == "device" else ""
            raise SourceError(f"{self._what()} not found{hint}")
        cap = self._capture()
        if not cap.isOpened():
            cap.release()
            hint = {"device": "unplugged, busy or no permission?",
                    "stream": "unreachable, wrong URL or credentials?",
                    "file": "unsupported format or codec?"}[self.kind]
            raise SourceError(f"cannot open {self._what()} ({hint})")
        self._cap = cap
        self._pacer = Pacer(self._pace_fps(cap), clock=self._clock, sleep=self._sleep)
        log.info("opened %s", self._what())

    def _pace_fps(self, cap: cv2.VideoCapture) -> float | None:
        if self.fps != "native":
            return self.fps
        if self.kind != "file":
            return None
        native = cap.get(cv2.CAP_PROP_FPS)
        if 0 < native <= MAX_PLAUSIBLE_FPS:
            return native
        log.warning("%s reports %.1f fps; replaying it unpaced", self._what(), native)
        return None

    def read(self) -> Frame:
        """The next frame: paced for files, surplus frames dropped for capped live sources."""
        if self._cap is None:
            raise SourceError(f"{self._what()} is not open")
        if self.kind == "file":
            self._pacer.wait_turn()
            image = self._read_file()
        else:
            image = self._read_live()
            while not self._pacer.take():
                image = self._read_live()
        self._seq += 1
        return Frame(image=as_bgr(image, self._what()), seq=self._seq, t_mono=self._clock(),
                     t_wall=self._wall())

    def _read_live(self) -> np.ndarray:
        assert self._cap is not None
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self._what()} stopped delivering frames "
                              "(unplugged or stream dropped?)")
        return image

    def _read_file(self) -> np.ndarray:
        assert self._cap is not None
        ok, image = self._cap.read()
        if ok and image is not None:
            return image
        if not self.loop:
            raise EndOfStream(f"end of {self._what()} after {self._seq} frames")
        self._cap.release()
        self._cap = self._capture()
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self._what()} has no frames to loop over")
        log.info("looping %s", self._what())
        return image

    def close(self) -> None:
        """Release the capture (safe to repeat)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
