"""What kind of thing an OpenCV ``uri`` names: a camera, a network stream or a file.

Its own module, importing nothing, so that the config (which validates ``loop`` with it) and
the OpenCV source (which opens each kind its own way) can both use it.
"""

from __future__ import annotations

from typing import Literal

UriKind = Literal["device", "stream", "file"]


def uri_kind(uri: str | int) -> UriKind:
    """Classify an OpenCV ``uri``: camera index or ``/dev/…`` path, network URL, or file."""
    if isinstance(uri, int) or uri.isdigit() or uri.startswith("/dev/"):
        return "device"
    return "stream" if "://" in uri else "file"
