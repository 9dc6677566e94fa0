"""Which time the hub believes: the node's, unless its clock is known to be off, the message
claims a time after its arrival, or a time older than the retention window (then the hub's
receive time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.clocks import skew_s, trusted

ARRIVED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOW = ARRIVED.timestamp()
BOUND = 120.0


def test_a_node_whose_clock_is_right_is_believed():
    started = ARRIVED - timedelta(seconds=8)
    assert trusted(started, ARRIVED - timedelta(seconds=1), NOW, BOUND, 0.4) == started


def test_what_a_node_queued_during_an_outage_keeps_its_time():
    started = ARRIVED - timedelta(hours=5)
    assert trusted(started, started + timedelta(seconds=3), NOW, BOUND, -0.2) == started


def test_a_time_after_the_arrival_is_replaced_by_the_arrival():
    in_2099 = datetime(2099, 6, 1, tzinfo=UTC)
    assert trusted(in_2099, in_2099, NOW, BOUND) == ARRIVED
    assert trusted(ARRIVED, in_2099, NOW, BOUND) == ARRIVED          # sent "in 2099"
    late = ARRIVED + timedelta(seconds=100)                          # within the bound
    assert trusted(late, late, NOW, BOUND) == late


def test_a_node_whose_heartbeat_showed_its_clock_off_is_not_believed():
    in_1999 = datetime(1999, 1, 1, tzinfo=UTC)
    skew = skew_s(in_1999, NOW)
    assert skew < -BOUND
    assert trusted(in_1999, in_1999, NOW, BOUND, skew) == ARRIVED


def test_without_a_bound_the_node_is_believed():
    in_2099 = datetime(2099, 6, 1, tzinfo=UTC)
    assert trusted(in_2099, in_2099, NOW, None) == in_2099


WINDOW = 30 * 86400.0                   # [retention] evidence_days


def test_a_time_older_than_the_retention_window_is_replaced_by_the_arrival():
    """A Pi without a real-time clock boots in 1970; before its first heartbeat its skew is
    not known, but evidence dated then would be purged at once."""
    in_1970 = datetime(1970, 1, 1, 0, 5, tzinfo=UTC)
    assert trusted(in_1970, in_1970, NOW, BOUND, None, WINDOW) == ARRIVED
    assert trusted(in_1970, ARRIVED, NOW, BOUND, None, WINDOW) == ARRIVED
    queued = ARRIVED - timedelta(days=29)                            # within the window
    assert trusted(queued, ARRIVED, NOW, BOUND, None, WINDOW) == queued
    assert trusted(in_1970, in_1970, NOW, None, None, WINDOW) == ARRIVED   # no skew bound
