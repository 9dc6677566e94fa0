"""The room's seat map: seat polygons in the detection stream's pixels, and the crops to look at.

The map's schema (``SeatMapSpec``) is part of the contract (``kuzet.contract``): the hub
stores and pushes it, the node reads it. Here it becomes seats in the frames the node actually
gets (``SeatMap``), each with the crop its looks use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kuzet.config_files import validate
from kuzet.contract import SeatMapSpec, SeatSpec
from kuzet.errors import ConfigError

__all__ = ["Seat", "SeatMap", "SeatMapSpec", "SeatSpec", "grid_seat_map", "inside_polygon",
           "load_seat_map", "parse_seat_map", "square_crop"]

CROP_MARGIN = 0.25     # a seat's crop: its polygon's bounding box plus this on each side
MIN_CROP = 96          # and at least this many pixels square


@dataclass(frozen=True)
class Seat:
    id: str
    polygon: np.ndarray                       # (N, 2) float32, frame pixels
    crop: tuple[int, int, int, int]           # x1, y1, x2, y2: the square the detector sees

    def contains(self, x: float, y: float) -> bool:
        return inside_polygon(self.polygon, x, y)


def inside_polygon(poly: np.ndarray, x: float, y: float) -> bool:
    """Even-odd rule point-in-polygon."""
    inside = False
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


class SeatMap:
    """Seats scaled to one frame size, each with the crop its looks use."""

    def __init__(self, spec: SeatMapSpec, frame_w: int, frame_h: int, *,
                 margin: float = CROP_MARGIN, min_crop: int = MIN_CROP) -> None:
        self.spec = spec
        self.size = (frame_w, frame_h)
        sx, sy = frame_w / spec.frame_size[0], frame_h / spec.frame_size[1]
        self.seats: list[Seat] = []
        for s in spec.seats:
            poly = np.array(s.polygon, dtype=np.float32) * np.float32([sx, sy])
            self.seats.append(Seat(s.id, poly, square_crop(poly, frame_w, frame_h, margin,
                                                           min_crop)))
        self.by_id = {s.id: s for s in self.seats}

    def seat_at(self, x: float, y: float) -> Seat | None:
        for seat in self.seats:
            if seat.contains(x, y):
                return seat
        return None

    def __len__(self) -> int:
        return len(self.seats)


def square_crop(poly: np.ndarray, w: int, h: int, margin: float, min_crop: int
                ) -> tuple[int, int, int, int]:
    """A square around the polygon, ``margin`` bigger on each side, at least ``min_crop``
    pixels, kept inside the frame (``w`` x ``h``): the crop a seat's looks use."""
    x1, y1 = poly.min(axis=0)
    x2, y2 = poly.max(axis=0)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    side = int(min(max(side, min_crop), w, h))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(min(max(cx - side / 2, 0), w - side))
    top = int(min(max(cy - side / 2, 0), h - side))
    return left, top, left + side, top + side


def load_seat_map(path: str | Path) -> SeatMapSpec:
    """Read and validate a seat map; ConfigError names the file and the bad key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: seat map not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the seat map: {exc}") from None
    return parse_seat_map(data, str(path))


def parse_seat_map(data: object, where: str = "seat map") -> SeatMapSpec:
    """``data`` (a dict, or a map already validated by the contract) as a ``SeatMapSpec``;
    ConfigError names ``where`` and the bad key."""
    if isinstance(data, SeatMapSpec):
        return data
    return validate(SeatMapSpec, data, where)


def grid_seat_map(cols: int, rows: int, frame_w: int, frame_h: int, *,
                  region: tuple[float, float, float, float] | None = None,
                  room: str | None = None) -> SeatMapSpec:
    """A regular grid of seats over ``region`` (x1, y1, x2, y2; default the whole frame):
    handy for a demo, a benchmark, or a first map that the technician then edits."""
    x0, y0, x1, y1 = region or (0, 0, frame_w, frame_h)
    cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
    seats = []
    for r in range(rows):
        for c in range(cols):
            sx, sy = x0 + c * cw, y0 + r * ch
            seats.append({"id": f"r{r + 1}s{c + 1}",
                          "polygon": [[sx, sy], [sx + cw, sy], [sx + cw, sy + ch],
                                      [sx, sy + ch]]})
    return SeatMapSpec.model_validate({"room": room, "frame_size": [frame_w, frame_h],
                                       "seats": seats})
