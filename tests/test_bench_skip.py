"""The skip-unchanged benchmark on real footage (short; the real figures come from
``kuzet bench edge --json``'s ``skip_unchanged``): skipping makes the quiet classroom cheap
and a person pasted into one of its seats is still looked at, soon."""

from __future__ import annotations

import pytest

from kuzet_tools.bench.skip import TARGETS, bench_skip

pytestmark = pytest.mark.integration     # the node's models on vtest.avi and classroom.gif


def test_skipping_spares_the_quiet_room_and_a_change_there_is_seen_within_the_bound():
    r = bench_skip(sweeps=1, seconds=8.0)
    assert r["targets"] == TARGETS and set(r["pass"]) == set(TARGETS)
    # with skipping off every sweep looks at the room and all 30 seats
    assert r["looks_per_sweep"]["quiet_off"] == r["looks_per_sweep"]["vtest_off"] == 31
    assert r["quiet_cpu_ms_per_sweep"] < r["quiet_cpu_ms_per_sweep_skip_off"] / 2
    assert r["seats_skipped_share"]["quiet"] > 0.5 > r["seats_skipped_share"]["vtest"]
    assert r["changes_injected"] >= 2 and r["changes_seen"] == r["changes_injected"]
    assert 0 < r["change_seen_within_s"] <= TARGETS["change_seen_within_s"]
    assert r["worst_look_gap_s"] <= r["max_skip_s"] + 2.0     # the bound, plus one sweep
