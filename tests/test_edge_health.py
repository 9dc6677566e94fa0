"""What the node says about itself: the reasons for a degraded status, warnings kept for a
minute, heartbeat rates, the watchdog's liveness and the note of a wall-clock step."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from edge.capture.supervisor import SourceStatus
from edge.health import (
    ClockStepNote,
    Heartbeats,
    Warnings,
    health_reasons,
    offline_status,
    status_message,
    watchdog_ok,
)
from edge.stats import NodeStats
from kuzet import contract
from tests.fakes.clock import FakeClock

ORIGIN = contract.Origin(building="main", room="a101", node="cam1")
OK = SourceStatus("ok", "", 0.0)
NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("source, depth, evidence, held, warned, expected", [
    (OK, 0, [], 0, [], []),
    (SourceStatus("failed", "cannot open /dev/video0", 0.0), 0, [], 0, [],
     ["camera failed: cannot open /dev/video0"]),
    (SourceStatus("frozen", "the same picture for 30 s", 0.0), 0, [], 0, [],
     ["camera frozen: the same picture for 30 s"]),
    (OK, 200, [], 0, [], []),
    (OK, 201, [], 0, [], ["outbox growing: 201 messages not yet delivered"]),
    (OK, 0, ["evidence space low: 9 MB used"], 0, [], ["evidence space low: 9 MB used"]),
    (OK, 0, [], 4, [], ["disk full: 4 messages held in memory"]),
    (OK, 0, [], 0, ["rules: ValueError: bad frame"], ["rules: ValueError: bad frame"]),
    (SourceStatus("dark", "x" * 500, 0.0), 0, [], 0, [], ["camera dark: " + "x" * 187]),
])
def test_health_reasons(source, depth, evidence, held, warned, expected):
    assert health_reasons(source, outbox_depth=depth, evidence_warnings=evidence,
                          held_in_memory=held, warnings=warned) == expected


def test_the_status_is_degraded_with_reasons_and_online_without():
    assert status_message(ORIGIN, OK, [], "math-1", NOW).state == "online"
    degraded = status_message(ORIGIN, SourceStatus("failed", "unplugged", 0.0),
                              ["camera failed: unplugged"], None, NOW)
    assert degraded.state == "degraded" and degraded.reasons == ["camera failed: unplugged"]
    assert degraded.source.state == "failed" and degraded.session_id is None
    assert status_message(ORIGIN, OK, [], "math-1", NOW).session_id == "math-1"
    assert offline_status(ORIGIN, NOW).state == "offline"


def test_a_warning_is_shown_for_a_minute_once():
    clock = FakeClock()
    warnings = Warnings(clock)
    warnings.warn("evidence not saved")
    warnings.warn("evidence not saved")       # the same again: shown once
    clock.now += 30
    warnings.warn("clip not saved")
    assert warnings.recent() == ["evidence not saved", "clip not saved"]
    clock.now += 31
    assert warnings.recent() == ["clip not saved"]
    clock.now += 30
    assert warnings.recent() == []


def test_only_the_last_five_warnings_are_kept():
    warnings = Warnings(FakeClock())
    for i in range(8):
        warnings.warn(f"problem {i}")
    assert warnings.recent() == [f"problem {i}" for i in range(3, 8)]


def test_heartbeats_carry_the_rates_since_the_last_one():
    clock = FakeClock(100.0)
    beats = Heartbeats(ORIGIN, clock, started=90.0)
    facts = {"model_versions": {"detector": "d", "faces": "f"}, "outbox_depth": 3,
             "disk_free_mb": 500.0, "cpu_temp_c": None, "now": NOW}
    clock.now += 10
    first = beats.next(NodeStats(frames_in=100, looks=50, model_s=1.0,
                                 worst_seat_revisit=0.8), **facts)
    assert first.fps == 10 and first.inference_ms == 20 and first.uptime_s == 20
    assert first.worst_seat_revisit_s == 0.8 and first.outbox_depth == 3
    clock.now += 5
    second = beats.next(NodeStats(frames_in=150, looks=50, model_s=1.0), **facts)
    assert second.fps == 10 and second.inference_ms == 0     # no look: no inference time


@pytest.mark.parametrize("alive, beat_age, ok", [
    (True, 5, True), (True, 31, False), (False, 5, False)])
def test_the_watchdog_is_fed_only_while_threads_run_and_detection_moves(alive, beat_age, ok):
    assert watchdog_ok(alive, 1000.0, 1000.0 + beat_age) is ok


def test_a_wall_clock_step_is_logged(caplog):
    mono, wall = FakeClock(1000.0), FakeClock(1.78e9)
    note = ClockStepNote(wall, mono)
    mono.now += 1
    wall.now += 1
    with caplog.at_level(logging.WARNING, logger="edge.health"):
        assert note.check() == 0
        wall.now += 3600
        assert note.check() == 3600
        assert note.check() == 0                 # logged once, not every second
    steps = [r.getMessage() for r in caplog.records if "wall clock moved" in r.getMessage()]
    assert steps == ["the wall clock moved by +3600 s (NTP?): timestamps follow it, "
                     "durations and retention do not"]
