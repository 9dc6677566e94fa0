"""The seat map in force, and the look schedule over it for the frames the node gets.

A map pushed from the hub is kept in the data dir (writable under the systemd unit's
``ProtectSystem=strict``, unlike ``/etc/kuzet``) and outranks the config's file, across
restarts. A new map (pushed or reloaded, on the rules thread) takes effect at the next frame
the prepare thread plans for; so does a new frame size. ``skip_unchanged`` gives each schedule
a gate (``edge.change.SkipGate``) that skips seats whose crop has not changed since their last
look, each looked at again within ``max_skip_s``; a new map or frame size starts a new gate.
"""

from __future__ import annotations

import threading
from pathlib import Path

from edge.change import MAX_SKIP_S, SkipGate
from edge.schedule import LookScheduler
from edge.seats import SeatMap, SeatMapSpec, load_seat_map, parse_seat_map


class SeatPlan:
    def __init__(self, config_file: Path, pushed_file: Path, *, margin: float = 0.25,
                 skip_unchanged: bool = False, max_skip_s: float = MAX_SKIP_S) -> None:
        self.config_file = Path(config_file)
        self.pushed_file = Path(pushed_file)
        self.margin = margin
        self.skip_unchanged = skip_unchanged
        self.max_skip_s = max_skip_s
        self.spec: SeatMapSpec = load_seat_map(self.file_in_force())
        self.current: SeatMap | None = None          # the map scaled to the latest frames
        self.scheduler: LookScheduler | None = None
        self._changed = threading.Event()

    def file_in_force(self) -> Path:
        """The last map pushed from the hub, else the config's."""
        return self.pushed_file if self.pushed_file.exists() else self.config_file

    def for_frame(self, width: int, height: int) -> tuple[SeatMap, LookScheduler]:
        """The seats and the schedule for a frame of that size (rebuilt when the size or the
        map changed)."""
        if self.current is None or self.current.size != (width, height) \
                or self._changed.is_set():
            self._changed.clear()
            self.current = SeatMap(self.spec, width, height, margin=self.margin)
            self.scheduler = LookScheduler(self.current, gate=SkipGate(
                enabled=self.skip_unchanged, max_skip_s=self.max_skip_s))
        assert self.scheduler is not None
        return self.current, self.scheduler

    def push(self, data: object) -> SeatMapSpec:
        """A map from the hub: validated (ConfigError names the bad key), kept in the data
        dir (atomically), and in force from the next frame."""
        spec = parse_seat_map(data, "seatmap in command")
        tmp = self.pushed_file.with_suffix(".tmp")
        tmp.write_text(spec.model_dump_json(indent=1))
        tmp.replace(self.pushed_file)
        self._use(spec)
        return spec

    def reload(self) -> SeatMapSpec:
        """The map in force read again from its file (a technician edited it)."""
        spec = load_seat_map(self.file_in_force())
        self._use(spec)
        return spec

    def _use(self, spec: SeatMapSpec) -> None:
        self.spec = spec
        self._changed.set()

    def worst_revisit(self) -> float | None:
        """The longest wait of a seat between two looks over the last minute (seconds)."""
        return self.scheduler.worst_revisit() if self.scheduler else None
