"""What the node measures as it runs, and the snapshot of it that others read.

``Counters`` are written while the node runs, each field by one thread only (frames by
capture, looks and model time by detect, stage times and alerts by rules), so no lock is
needed. ``NodeStats`` is a frozen snapshot of them plus a few facts read at the same moment:
heartbeats, the benchmarks and the tests read that (``EdgeNode.stats``), never the node's
insides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STAGES = ("prepare", "decode", "rules", "evidence")


@dataclass
class Counters:
    frames_in: int = 0            # frames the capture thread took from the source
    looks: int = 0                # model runs (one job: the room or one seat's crop)
    sweeps: int = 0               # sweeps begun (room looks: each sweep starts with one)
    faces_shed: int = 0           # seat looks without faces: shed to keep the revisit bound
    model_s: float = 0.0          # seconds spent running the models (infer)
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    alerts_emitted: int = 0       # alert messages (open, update, close) put into the outbox
    last_detect_beat: float = 0.0  # monotonic time the detect thread last came round


@dataclass(frozen=True)
class NodeStats:
    frames_in: int = 0
    looks: int = 0
    sweeps: int = 0
    faces_shed: int = 0
    model_s: float = 0.0
    stage_s: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    alerts_emitted: int = 0
    worst_seat_revisit: float | None = None   # seconds, over the scheduler's last minute
    held_in_memory: int = 0       # messages the full disk kept out of the outbox
    threads_alive: bool = False   # every pipeline thread is running

    @classmethod
    def of(cls, counters: Counters, *, worst_seat_revisit: float | None, held_in_memory: int,
           threads_alive: bool) -> NodeStats:
        return cls(frames_in=counters.frames_in, looks=counters.looks,
                   sweeps=counters.sweeps, faces_shed=counters.faces_shed,
                   model_s=counters.model_s,
                   stage_s=dict(counters.stage_s),
                   alerts_emitted=counters.alerts_emitted,
                   worst_seat_revisit=worst_seat_revisit, held_in_memory=held_in_memory,
                   threads_alive=threads_alive)
