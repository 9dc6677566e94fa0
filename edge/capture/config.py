"""Frame-source config: a pydantic union on ``type`` (``edge.capture.factory`` builds the source).

Examples (YAML or JSON, under the node's ``source`` key)::

    {"type": "picamera2", "main_size": [1920, 1080], "lores_size": [640, 360], "fps": 10}
    {"type": "opencv", "uri": 0}                         # first V4L2/USB camera
    {"type": "opencv", "uri": "rtsp://cam.local/stream", "fps": 10}
    {"type": "opencv", "uri": "demo.avi", "loop": true}  # replayed at the video's own fps
    {"type": "folder", "path": "/srv/stills", "fps": 2.0, "loop": true}

This module imports neither OpenCV nor picamera2, so validating a config is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PositiveFloat, model_validator

from edge.capture.uri import uri_kind
from kuzet.strict import StrictModel


def _max_is_none(value: Any) -> Any:
    return None if value == "max" else value


Unlimited = BeforeValidator(_max_is_none)
"""``fps = "max"`` is accepted for ``null`` (no limit), because TOML has no null."""


class Picamera2Config(StrictModel):
    """Raspberry Pi camera: ``main`` (RGB) for evidence, ``lores`` (YUV420) for detection."""

    type: Literal["picamera2"]
    main_size: tuple[int, int] = (1920, 1080)
    lores_size: tuple[int, int] = (640, 360)
    fps: Annotated[float, Field(gt=0, le=120)] = 10.0

    @model_validator(mode="after")
    def _check_sizes(self) -> Picamera2Config:
        for key, (w, h) in (("main_size", self.main_size), ("lores_size", self.lores_size)):
            if w <= 0 or h <= 0 or w % 2 or h % 2:
                raise ValueError(f"{key} must be positive and even, got [{w}, {h}]")
        if self.lores_size[0] > self.main_size[0] or self.lores_size[1] > self.main_size[1]:
            raise ValueError(f"lores_size {list(self.lores_size)} must not exceed main_size "
                             f"{list(self.main_size)}")
        return self


class OpenCvConfig(StrictModel):
    """Anything OpenCV opens: camera index or ``/dev/videoN``, RTSP/HTTP URL, video file.

    ``fps``: a number caps the rate (a file is replayed at that rate; a live source drops
    surplus frames); ``"native"`` (default) replays a file at its own frame rate and leaves
    live sources uncapped; ``null`` or ``"max"`` reads as fast as possible (benchmarks).
    """

    type: Literal["opencv"]
    uri: str | int
    fps: Annotated[PositiveFloat | Literal["native"] | None, Unlimited] = "native"
    loop: bool = False
    timeout_s: PositiveFloat = 10.0

    @model_validator(mode="after")
    def _loop_only_files(self) -> OpenCvConfig:
        if self.loop and uri_kind(self.uri) != "file":
            raise ValueError(f"loop applies to video files only, not {self.uri!r}")
        return self


class FolderConfig(StrictModel):
    """A folder of still images in name order at ``fps`` (``null`` or ``"max"``: no limit)."""

    type: Literal["folder"]
    path: Path
    fps: Annotated[PositiveFloat | None, Unlimited] = 2.0
    loop: bool = False


SourceConfig = Annotated[Picamera2Config | OpenCvConfig | FolderConfig,
                         Field(discriminator="type")]
