"""``FrameHealth``: is the picture frozen or dark? Cheap enough to run on every frame on a Pi.

Each frame is reduced to a grid of about 64x48 single pixels (a strided view, no resize), so
a check costs well under a millisecond. Single pixels, not averages, are used on purpose: a
live sensor's noise makes them differ from frame to frame even in a still room, whereas a
stuck feed repeats the same bytes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

GRID = (64, 48)
DARK_HYSTERESIS = 2.0  # a dark picture must get this much brighter than the limit to count as lit

Verdict = Literal["ok", "frozen", "dark"]


def thumbnail(image: np.ndarray, grid: tuple[int, int] = GRID) -> np.ndarray:
    """About ``grid`` (columns, rows) pixels sampled evenly from ``image``, as int16."""
    h, w = image.shape[:2]
    sy, sx = max(1, h // grid[1]), max(1, w // grid[0])
    return image[sy // 2::sy, sx // 2::sx].astype(np.int16)


class FrameHealth:
    """Tracks how long the picture has been unchanged and how long it has been dark.

    ``frozen``: no sampled pixel moved by more than ``freeze_tolerance`` on average (against
    the picture when it last changed) for ``freeze_after_s``. ``dark``: mean sampled
    brightness below ``dark_level`` (0..255) for ``dark_after_s``. Dark wins over frozen: a
    covered lens gives a black picture that also never changes.
    """

    def __init__(self, *, freeze_after_s: float = 10.0, dark_after_s: float = 10.0,
                 dark_level: float = 12.0, freeze_tolerance: float = 0.25) -> None:
        self.freeze_after_s = freeze_after_s
        self.dark_after_s = dark_after_s
        self.dark_level = dark_level
        self.freeze_tolerance = freeze_tolerance
        self._anchor: np.ndarray | None = None
        self._changed_at = 0.0
        self._dark_since: float | None = None
        self._dark = False
        self.brightness = 0.0

    def check(self, image: np.ndarray, now: float) -> Verdict:
        """Update with the frame captured at ``now`` (monotonic seconds) and judge it."""
        thumb = thumbnail(image)
        self.brightness = float(thumb.mean())
        limit = self.dark_level + (DARK_HYSTERESIS if self._dark else 0.0)
        if self.brightness < limit:
            if self._dark_since is None:
                self._dark_since = now
        else:
            self._dark_since = None
        self._dark = self._dark_since is not None and now - self._dark_since >= self.dark_after_s

        anchor = self._anchor
        if (anchor is None or anchor.shape != thumb.shape
                or float(np.abs(thumb - anchor).mean()) > self.freeze_tolerance):
            self._anchor, self._changed_at = thumb, now
        if self._dark:
            return "dark"
        return "frozen" if self.frozen_for(now) >= self.freeze_after_s else "ok"

    def frozen_for(self, now: float) -> float:
        """Seconds since the picture last changed (0 before the first frame)."""
        return 0.0 if self._anchor is None else now - self._changed_at

    def describe(self, verdict: Verdict, now: float) -> str:
        """A sentence for the status line explaining ``verdict``."""
        if verdict == "dark":
            return (f"picture dark (brightness {self.brightness:.0f} < {self.dark_level:g}) "
                    f"for {self.dark_after_s:g} s: lens covered or lights off?")
        if verdict == "frozen":
            return (f"picture unchanged for {self.frozen_for(now):.0f} s: "
                    "camera or stream stuck?")
        return "delivering frames"
