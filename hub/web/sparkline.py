"""A small history picture: a series of (time, value) points drawn as an SVG path over a
fixed time window, for the technician's devices page.

Pure: no Flask, no database. ``sparkline`` returns the path's ``d`` and the figures the
page prints beside it (latest, lowest, highest). Time runs left to right over
[``start``, ``end``]; values span the height, the lowest at the bottom (a flat series is
drawn across the middle). Two points further apart than ``max_gap_s``, or a missing value,
break the line: a node that was silent shows as a gap, not as a line across it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PAD = 2.0                     # px kept free above and below the line


@dataclass(frozen=True)
class Spark:
    d: str                    # the SVG path: one ``M…L…`` run per unbroken stretch
    width: int
    height: int
    latest: float | None      # the newest value in the window
    low: float | None
    high: float | None
    count: int                # the points drawn

    @property
    def empty(self) -> bool:
        return self.count == 0


def sparkline(points: Sequence[tuple[float, float | None]], start: float, end: float,
              max_gap_s: float, width: int = 120, height: int = 28) -> Spark:
    """The picture of ``points`` (time in epoch seconds, value; oldest first) within
    [``start``, ``end``]; points outside it are left out."""
    if not end > start:
        raise ValueError(f"sparkline: the window must end after it starts ({start}, {end})")
    if max_gap_s <= 0 or width < 1 or height < 1:
        raise ValueError("sparkline: max_gap_s, width and height must be positive")
    inside = sorted((t, v) for t, v in points if start <= t <= end)
    values = [v for _, v in inside if v is not None]
    if not values:
        return Spark("", width, height, None, None, None, 0)
    low, high = min(values), max(values)
    span = high - low

    def y(v: float) -> float:
        if span == 0:
            return height / 2
        return PAD + (high - v) / span * (height - 2 * PAD)

    runs: list[list[str]] = []
    last_t: float | None = None
    for t, v in inside:
        if v is None:
            last_t = None                      # a missing value breaks the line
            continue
        x = (t - start) / (end - start) * width
        xy = f"{x:.1f} {y(v):.1f}"
        if last_t is None or t - last_t > max_gap_s:
            runs.append([f"M{xy}"])
        else:
            runs[-1].append(f"L{xy}")
        last_t = t
    # a lone point is a zero-length run: with round caps it shows as a dot
    d = "".join("".join(run) if len(run) > 1 else run[0] + "h0" for run in runs)
    return Spark(d, width, height, values[-1], low, high, len(values))
