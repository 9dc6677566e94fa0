"""Is a node online, degraded or offline? A pure function of what the hub has heard.

Inputs: the node's retained status (its own word, or its last will ``offline``), when the hub
last heard from it (status or heartbeat), its last heartbeat's figures (and how far off its
clock was) and the recent outbox depths. The clock is passed in. Reasons are stable codes that
the pages translate; a node's own degraded reasons (free text) are kept separately in the
node's status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from hub.config import LivenessSection

# Reason codes (translated in hub/web/labels.py).
NODE_OFFLINE = "node_offline"          # the node said so (clean stop or its last will)
NO_HEARTBEAT = "no_heartbeat"          # silent for longer than heartbeat_timeout_s
NEVER_SEEN = "never_seen"
NODE_DEGRADED = "node_degraded"        # the node's own status is degraded
FPS_LOW = "fps_low"
DISK_LOW = "disk_low"
OUTBOX_GROWING = "outbox_growing"
CLOCK_SKEW = "clock_skew"              # its clock is off by more than max_clock_skew_s
REVISIT_SLOW = "revisit_slow"          # seats wait longer than the bound between looks


@dataclass(frozen=True)
class NodeFacts:
    status_state: str | None = None       # online / degraded / offline, or None if unknown
    last_heard: float | None = None       # epoch seconds: latest status or heartbeat
    fps: float | None = None
    disk_free_mb: float | None = None
    outbox_depths: list[int] = field(default_factory=list)   # oldest first
    clock_skew_s: float | None = None     # node clock minus hub clock at the last heartbeat
    # the revisit budget: the node says it is over its bound (a newer node), or its longest
    # wait of a seat between two looks over the last minute (every node)
    over_budget: bool = False
    worst_seat_revisit_s: float | None = None


@dataclass(frozen=True)
class Liveness:
    state: str                            # online / degraded / offline
    reasons: tuple[str, ...] = ()


def assess(facts: NodeFacts, now: float, limits: LivenessSection) -> Liveness:
    """The node's state now, with reason codes."""
    if facts.status_state == "offline":
        return Liveness("offline", (NODE_OFFLINE,))
    if facts.last_heard is None:
        return Liveness("offline", (NEVER_SEEN,))
    if now - facts.last_heard > limits.heartbeat_timeout_s:
        return Liveness("offline", (NO_HEARTBEAT,))
    reasons: list[str] = []
    if facts.status_state == "degraded":
        reasons.append(NODE_DEGRADED)
    if facts.fps is not None and facts.fps < limits.min_fps:
        reasons.append(FPS_LOW)
    if facts.disk_free_mb is not None and facts.disk_free_mb < limits.min_disk_free_mb:
        reasons.append(DISK_LOW)
    if _outbox_growing(facts.outbox_depths, limits):
        reasons.append(OUTBOX_GROWING)
    if facts.clock_skew_s is not None and abs(facts.clock_skew_s) > limits.max_clock_skew_s:
        reasons.append(CLOCK_SKEW)
    if facts.over_budget or (facts.worst_seat_revisit_s is not None
                             and facts.worst_seat_revisit_s > limits.max_seat_revisit_s):
        reasons.append(REVISIT_SLOW)
    return Liveness("degraded" if reasons else "online", tuple(reasons))


def from_status(status_state: str | None) -> Liveness:
    """The campus hub's verdict: the node's own word alone (heartbeats stay in the building,
    so silence proves nothing there; a node that drops off says ``offline`` by its last
    will, which the bridge carries like any status)."""
    if status_state == "offline":
        return Liveness("offline", (NODE_OFFLINE,))
    if status_state == "degraded":
        return Liveness("degraded", (NODE_DEGRADED,))
    if status_state == "online":
        return Liveness("online")
    return Liveness("offline", (NEVER_SEEN,))


def _outbox_growing(depths: list[int], limits: LivenessSection) -> bool:
    if depths and depths[-1] > limits.max_outbox_depth:
        return True
    tail = depths[-limits.outbox_growing_beats:]
    return (len(tail) == limits.outbox_growing_beats
            and all(b > a for a, b in pairwise(tail)))
