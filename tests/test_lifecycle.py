"""The alert lifecycle on fake clocks: which message each rule event makes, what is saved, and
how alerts left open by a crash are closed (same boot, after a reboot, old state)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from edge.lifecycle import AlertLifecycle
from edge.rules import RuleEvent
from edge.state import NodeState, OpenAlert
from kuzet.contract import AlertEvent, Origin, Rule
from tests.fakes.clock import FakeClock

ORIGIN = Origin(building="main", room="a101", node="cam1")
WALL0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC).timestamp()
YEAR = 365 * 86400.0
OPEN, UPDATE, CLOSE = AlertEvent.OPEN, AlertEvent.UPDATE, AlertEvent.CLOSE


class Clocks:
    """A monotonic and a wall clock that move together, unless the wall clock is stepped."""

    def __init__(self) -> None:
        self.mono = FakeClock(1000.0)
        self.wall = FakeClock(WALL0)

    def pass_time(self, seconds: float) -> None:
        self.mono.now += seconds
        self.wall.now += seconds


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


def lifecycle(clocks: Clocks, open_alerts: dict | None = None, boot: str = "boot-1"
              ) -> AlertLifecycle:
    return AlertLifecycle(ORIGIN, {} if open_alerts is None else open_alerts, boot=boot,
                          clock=clocks.mono, wall_clock=clocks.wall)


def event(kind: AlertEvent, started: float, t: float, *, alert_id: str = "alert-0001",
          rule: Rule = Rule.DEVICE, seat: str | None = "r1s1", score: float = 0.8
          ) -> RuleEvent:
    return RuleEvent(alert_id, kind, rule, seat, started, t, score, {"label": "cell phone"})


def wall(seconds_after_wall0: float) -> datetime:
    return datetime.fromtimestamp(WALL0 + seconds_after_wall0, UTC)


def test_an_alert_opens_at_the_wall_time_its_condition_started(clocks):
    life = lifecycle(clocks)
    clocks.pass_time(12)                       # the rules confirm 12 s after it began
    update = life.on_event(event(OPEN, started=1000.0, t=1012.0), "math-1")
    msg = update.message
    assert msg.event == OPEN and msg.rule == Rule.DEVICE and msg.seat == "r1s1"
    assert msg.started_at == wall(0) and msg.sent_at == wall(12)
    assert msg.duration_s == 12 and msg.ended_at is None
    assert msg.session_id == "math-1" and msg.detail == {"label": "cell phone"}
    assert update.state_changed
    assert life.open_alerts["alert-0001"] == OpenAlert(
        rule="device", seat="r1s1", session_id="math-1", started_at=wall(0), score=0.8,
        boot="boot-1", started_mono=1000.0, duration_s=12.0)


def test_an_update_saves_the_last_duration_and_score(clocks):
    life = lifecycle(clocks)
    life.on_event(event(OPEN, 1000.0, 1003.0), "math-1")
    update = life.on_event(event(UPDATE, 1000.0, 1018.0, score=0.95), "math-1")
    assert update.state_changed and update.message.event == UPDATE
    saved = life.open_alerts["alert-0001"]
    assert saved.duration_s == 18 and saved.score == 0.95


def test_a_close_ends_at_start_plus_duration_and_forgets_the_alert(clocks):
    life = lifecycle(clocks)
    life.on_event(event(OPEN, 1000.0, 1003.0), "math-1")
    update = life.on_event(event(CLOSE, 1000.0, 1040.0), "math-1")
    msg = update.message
    assert msg.event == CLOSE and msg.duration_s == 40
    assert msg.ended_at == msg.started_at + timedelta(seconds=40)
    assert update.state_changed and life.open_alerts == {}


def test_an_alert_keeps_the_session_it_opened_in(clocks):
    life = lifecycle(clocks)
    life.on_event(event(OPEN, 1000.0, 1003.0), "math-1")
    later = life.on_event(event(UPDATE, 1000.0, 1020.0), "physics-2")
    closed = life.on_event(event(CLOSE, 1000.0, 1030.0), None)
    assert later.message.session_id == closed.message.session_id == "math-1"


def test_a_wall_clock_jump_moves_neither_the_start_nor_the_end(clocks):
    life = lifecycle(clocks)
    clocks.pass_time(3)
    opened = life.on_event(event(OPEN, 1000.0, 1003.0), "math-1").message
    clocks.wall.now += YEAR                    # NTP corrects a Pi without a real-time clock
    clocks.pass_time(27)
    closed = life.on_event(event(CLOSE, 1000.0, 1030.0), "math-1").message
    assert closed.started_at == opened.started_at == wall(0)
    assert closed.ended_at == wall(30)         # not a year long
    assert closed.sent_at == wall(YEAR + 30)   # stamps follow the wall clock


def test_an_update_of_an_alert_it_does_not_know_saves_nothing(clocks):
    life = lifecycle(clocks)
    clocks.pass_time(20)
    update = life.on_event(event(UPDATE, 1000.0, 1020.0), "math-1")
    assert not update.state_changed and life.open_alerts == {}
    assert update.message.started_at == wall(0)


def test_scores_are_capped_at_one(clocks):
    life = lifecycle(clocks)
    msg = life.on_event(event(OPEN, 1000.0, 1003.0, score=1.7), None).message
    assert msg.score == 1.0 and life.open_alerts["alert-0001"].score == 1.0


def stale(**saved) -> dict[str, OpenAlert]:
    info = {"rule": "head_turned", "seat": "r2s3", "session_id": "math-1",
            "started_at": wall(0).isoformat(), "score": 0.7, **saved}
    return {"alert-0001": OpenAlert.from_json(info)}


@pytest.mark.parametrize("saved, down_s, duration", [
    # same boot: the monotonic clock measures, the time the node was down included
    ({"boot": "boot-1", "started_mono": 1000.0, "duration_s": 5.0}, 60, 60.0),
    # after a reboot: the duration last measured before the node stopped
    ({"boot": "boot-0", "started_mono": 99999.0, "duration_s": 5.0}, 60, 5.0),
    # state from an older version (neither kept): the wall clock's reckoning
    ({}, 60, 60.0),
    # ... which never makes a negative duration
    ({}, -600, 0.0),
])
def test_alerts_left_open_are_closed_at_start(clocks, saved, down_s, duration):
    clocks.pass_time(down_s)
    open_alerts = stale(**saved)
    life = lifecycle(clocks, open_alerts, boot="boot-1")
    [msg] = life.close_stale()
    assert msg.event == CLOSE and msg.alert_id == "alert-0001" and msg.seat == "r2s3"
    assert msg.detail == {"closed_by": "node restart"}
    assert msg.duration_s == duration
    assert msg.started_at == wall(0) and msg.ended_at == wall(duration)
    assert msg.session_id == "math-1" and msg.score == 0.7
    assert msg.advisory                        # head_turned is advisory
    assert open_alerts == {}


def test_nothing_left_open_closes_nothing(clocks):
    assert lifecycle(clocks).close_stale() == []


def test_the_open_alerts_survive_a_save_and_a_restart(tmp_path, clocks):
    state = NodeState(tmp_path / "state.json")
    life = lifecycle(clocks, state.open_alerts)
    life.on_event(event(OPEN, 1000.0, 1003.0), "math-1")
    state.save()
    again = NodeState(tmp_path / "state.json")
    assert again.open_alerts == life.open_alerts
    saved = json.loads((tmp_path / "state.json").read_text())["open_alerts"]["alert-0001"]
    assert saved == {"rule": "device", "seat": "r1s1", "session_id": "math-1",
                     "started_at": "2026-05-04T09:00:00+00:00", "score": 0.8,
                     "boot": "boot-1", "started_mono": 1000.0, "duration_s": 3.0}


def test_an_unreadable_state_is_kept_aside_and_the_node_starts_clean(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"session": null, "open_alerts": {"alert-0001": {"seat": "r1s1"}}}')  # no rule
    state = NodeState(path)
    assert state.open_alerts == {} and state.session is None
    assert (tmp_path / "state.corrupt").exists()
