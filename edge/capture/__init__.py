"""Frame capture: one ``FrameSource`` interface, its sources, and a self-healing supervisor.

Typical use in the node::

    source = ResilientSource(lambda: open_source(cfg.source, sleep=stop.wait),
                             wait=stop.wait, on_status=publish_status)
    for frame in source.frames():
        ...

See ``docs/capture.md``.
"""

from edge.capture.base import EndOfStream, Frame, FrameSource, Pacer
from edge.capture.config import (
    FolderConfig,
    OpenCvConfig,
    Picamera2Config,
    SourceConfig,
    open_source,
)
from edge.capture.supervisor import ResilientSource, SourceStatus

__all__ = [
    "EndOfStream", "FolderConfig", "Frame", "FrameSource", "OpenCvConfig", "Pacer",
    "Picamera2Config", "ResilientSource", "SourceConfig", "SourceStatus", "open_source",
]
