"""Has a seat's crop changed since its last look? A cheap measure, no model.

As Frigate looks only where there is motion, the node sends a seat to the detector only when
its crop has changed since the seat's last look, or when it must look anyway (``SkipGate``).

The measure: the crop (detection-stream pixels) shrunk to a ``THUMB_PX`` square of grey
levels with ``cv2.INTER_AREA``, so each thumbnail pixel averages the crop's pixels under it
(a 150 px seat: about 22 of them) and sensor noise and codec flicker average out; then the
share of thumbnail pixels that differ from the thumbnail kept at the seat's last look by more
than ``PIXEL_DELTA`` grey levels. The crop has changed when that share reaches ``MIN_SHARE``
(1% of the thumbnail: a phone of 10×20 px in a 120 px crop is 1.4%). Comparing with the last
*look*, not the last frame, makes a slow drift add up until it is looked at.

Measured on real footage (``tests/test_change.py``, docs/edge.md): the quiet classroom's empty
seats never change, with Gaussian noise of σ 4 and a JPEG round trip at quality 70 added they
still do not; a person walking through a vtest.avi seat always does.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB_PX = 32          # the thumbnail's side
PIXEL_DELTA = 25       # grey levels a thumbnail pixel must move to count as changed
MIN_SHARE = 0.01       # the share of changed thumbnail pixels that makes the crop changed
MAX_SKIP_S = 10.0      # every seat is looked at again within this, changed or not


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """The crop (BGR or grey) as a ``THUMB_PX`` square of grey levels (uint8)."""
    if pixels.size == 0:
        return np.zeros((THUMB_PX, THUMB_PX), np.uint8)
    grey = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 else pixels
    return cv2.resize(grey, (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA)


def changed_share(a: np.ndarray, b: np.ndarray, pixel_delta: int = PIXEL_DELTA) -> float:
    """The share (0..1) of two thumbnails' pixels that differ by more than ``pixel_delta``."""
    return float(np.count_nonzero(cv2.absdiff(a, b) > pixel_delta)) / a.size


def has_changed(a: np.ndarray, b: np.ndarray, *, pixel_delta: int = PIXEL_DELTA,
                min_share: float = MIN_SHARE) -> bool:
    return changed_share(a, b, pixel_delta) >= min_share


@dataclass(frozen=True)
class Verdict:
    """What one visit of a seat decided. ``look``: send it to the detector; ``changed``: its
    crop changed since its last look (True at a first look). ``why``: ``off`` (skipping is
    off), ``first``, ``changed``, ``watched`` (something was found there before), ``due`` (its
    last look is ``max_skip_s`` old), or ``unchanged`` (skipped)."""

    look: bool
    changed: bool
    why: str


@dataclass(frozen=True)
class _Ref:
    thumb: np.ndarray
    t: float


class SkipGate:
    """Per seat, the thumbnail at its last look and when. ``visit`` decides whether this
    visit looks; a seat that looks keeps this visit's thumbnail. Used on one thread (the
    prepare thread); ``forget`` (a new session, a new map) may come from another."""

    def __init__(self, *, enabled: bool = True, max_skip_s: float = MAX_SKIP_S,
                 pixel_delta: int = PIXEL_DELTA, min_share: float = MIN_SHARE) -> None:
        if max_skip_s <= 0:
            raise ValueError("max_skip_s must be positive")
        self.enabled = enabled
        self.max_skip_s = max_skip_s
        self.pixel_delta = pixel_delta
        self.min_share = min_share
        self._refs: dict[str, _Ref] = {}

    def visit(self, seat: str, pixels: np.ndarray, t: float, *, watched: bool = False
              ) -> Verdict:
        """The seat's crop ``pixels`` at monotonic time ``t``; ``watched``: the rules hold
        something for the seat (an open incident, a rule mid-duration, a detection at its last
        look), so it is looked at whatever its crop does."""
        thumb = thumbnail(pixels)
        refs = self._refs
        ref = refs.get(seat)
        changed = ref is None or has_changed(thumb, ref.thumb, pixel_delta=self.pixel_delta,
                                             min_share=self.min_share)
        if not self.enabled:
            verdict = Verdict(True, changed, "off")
        elif ref is None:
            verdict = Verdict(True, True, "first")
        elif changed:
            verdict = Verdict(True, True, "changed")
        elif watched:
            verdict = Verdict(True, False, "watched")
        elif t - ref.t >= self.max_skip_s:
            verdict = Verdict(True, False, "due")
        else:
            return Verdict(False, False, "unchanged")
        refs[seat] = _Ref(thumb, t)
        return verdict

    def forget(self) -> None:
        """Every seat's next visit is a first look (a session started, the map changed)."""
        self._refs = {}
