"""Node liveness is a pure function of what the hub heard and the time."""

from __future__ import annotations

import pytest

from hub.config import LivenessSection
from hub.liveness import NodeFacts, assess

NOW = 1_000_000.0
LIMITS = LivenessSection()


@pytest.mark.parametrize("facts, state, reasons", [
    (NodeFacts("online", NOW - 5, 10, 20000, [0, 0, 0]), "online", ()),
    (NodeFacts(None, None), "offline", ("never_seen",)),
    (NodeFacts("offline", NOW - 1), "offline", ("node_offline",)),
    (NodeFacts("online", NOW - 60, 10, 20000), "offline", ("no_heartbeat",)),
    (NodeFacts("online", NOW - 5, 1.0, 20000), "degraded", ("fps_low",)),
    (NodeFacts("online", NOW - 5, 10, 100), "degraded", ("disk_low",)),
    (NodeFacts("online", NOW - 5, 10, 20000, [1, 5, 9]), "degraded", ("outbox_growing",)),
    (NodeFacts("online", NOW - 5, 10, 20000, [9, 5, 9]), "online", ()),
    (NodeFacts("online", NOW - 5, 10, 20000, [500]), "degraded", ("outbox_growing",)),
    (NodeFacts("degraded", NOW - 5, 0.5, 20000), "degraded", ("node_degraded", "fps_low")),
    (NodeFacts("online", NOW - 5, 10, 20000, clock_skew_s=-90.0), "online", ()),
    (NodeFacts("online", NOW - 5, 10, 20000, clock_skew_s=-3600.0), "degraded", ("clock_skew",)),
    (NodeFacts("online", NOW - 5, 10, 20000, clock_skew_s=2.3e9), "degraded", ("clock_skew",)),
])
def test_assess(facts, state, reasons):
    verdict = assess(facts, NOW, LIMITS)
    assert (verdict.state, verdict.reasons) == (state, reasons)
