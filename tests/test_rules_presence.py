"""The proctor's presence in the rules core: "I am at this seat" quiets the outside-help rules
there until a time, closes such an alert open there, and nothing else."""

from __future__ import annotations

import pytest

from edge.rules import Policy, RulesEngine, SeatLook
from kuzet.contract import OUTSIDE_HELP_RULES, AlertEvent, Rule
from tests.test_rules import PHONE, STUDENT, engine, run, seat_looks

OPEN, CLOSE = AlertEvent.OPEN, AlertEvent.CLOSE
TWO = (0.8, 0.7)              # the student and a second person centred in the seat


def test_a_second_person_at_a_quiet_seat_raises_nothing_until_the_quiet_ends():
    e = engine()
    assert e.quiet("s01", OUTSIDE_HELP_RULES, until=60.0, t=0.0) == []
    assert run(e, seat_looks(end=59, persons=TWO)) == []
    # after the quiet, the rule must hold its 5 s afresh (looks in the quiet counted for nothing)
    assert run(e, seat_looks(start=60, end=70, persons=TWO)) == [
        (OPEN, Rule.EXTRA_PERSON, "s01", 66.0)]


def test_someone_standing_by_a_quiet_seat_raises_nothing():
    e = engine()
    e.quiet("s01", OUTSIDE_HELP_RULES, until=100.0, t=0.0)
    assert run(e, seat_looks(end=50, persons=STUDENT, outsiders=(0.9,))) == []


def test_an_outside_help_alert_open_at_the_seat_closes_saying_the_proctor_came():
    e = engine()
    assert run(e, seat_looks(end=8, persons=TWO)) == [(OPEN, Rule.EXTRA_PERSON, "s01", 6.0)]
    [closed] = e.quiet("s01", OUTSIDE_HELP_RULES, until=200.0, t=9.0)
    assert (closed.event, closed.rule, closed.seat) == (CLOSE, Rule.EXTRA_PERSON, "s01")
    assert closed.detail["closed_by"] == "proctor_present"
    assert closed.t == 8.0               # it held until the last look that saw it
    assert e.open_alerts == {}
    assert run(e, seat_looks(start=10, end=150, persons=TWO)) == []


def test_the_quiet_is_only_outside_help_and_only_that_seat():
    e = engine()
    e.quiet("s01", OUTSIDE_HELP_RULES, until=100.0, t=0.0)
    got = run(e, [SeatLook(seat, float(t), persons=TWO, objects=PHONE)
                  for t in range(0, 8) for seat in ("s01", "s02")])
    assert sorted(got, key=str) == sorted([
        (OPEN, Rule.DEVICE, "s01", 3.0), (OPEN, Rule.DEVICE, "s02", 3.0),
        (OPEN, Rule.EXTRA_PERSON, "s02", 6.0)], key=str)


def test_a_second_tap_extends_the_quiet_and_never_shortens_it():
    e = engine()
    e.quiet("s01", OUTSIDE_HELP_RULES, until=100.0, t=0.0)
    e.quiet("s01", OUTSIDE_HELP_RULES, until=50.0, t=10.0)
    assert e.quiet_ends("s01", Rule.EXTRA_PERSON) == 100.0
    e.quiet("s01", OUTSIDE_HELP_RULES, until=180.0, t=20.0)
    assert e.quiet_ends("s01", Rule.OUTSIDER_NEAR_SEAT) == 180.0


def test_quiet_outside_a_session_is_refused_and_a_stop_forgets_it():
    with pytest.raises(ValueError, match="no exam session"):
        RulesEngine().quiet("s01", OUTSIDE_HELP_RULES, until=10.0, t=0.0)
    e = engine()
    e.quiet("s01", OUTSIDE_HELP_RULES, until=1000.0, t=0.0)
    e.stop_session(t=1.0)
    e.start_session(Policy("s2"), t=2.0)
    assert e.quiet_ends("s01", Rule.EXTRA_PERSON) is None
    assert run(e, seat_looks(start=2, end=10, persons=TWO)) == [
        (OPEN, Rule.EXTRA_PERSON, "s01", 8.0)]
