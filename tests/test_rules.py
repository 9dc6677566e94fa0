"""The rules core, as tables: a script of looks over time in, the alert events out."""

from __future__ import annotations

import itertools

import pytest

from edge.rules import Policy, RoomLook, RuleParams, RulesEngine, SeatLook
from kuzet.contract import AlertEvent, Rule

OPEN, UPDATE, CLOSE = AlertEvent.OPEN, AlertEvent.UPDATE, AlertEvent.CLOSE
STUDENT = (0.8,)


def engine(policy: Policy | None = None, **params: RuleParams) -> RulesEngine:
    counter = itertools.count(1)
    e = RulesEngine({Rule(k): v for k, v in params.items()}, new_id=lambda: f"a{next(counter)}")
    e.start_session(policy or Policy(session_id="s1"), t=0.0)
    return e


def run(e: RulesEngine, looks) -> list[tuple]:
    """Feed looks (SeatLook, RoomLook or a float for a bare tick) and summarise the events."""
    out = []
    for look in looks:
        if isinstance(look, SeatLook):
            events = e.observe_seat(look) + e.tick(look.t)
        elif isinstance(look, RoomLook):
            events = e.observe_room(look) + e.tick(look.t)
        else:
            events = e.tick(look)
        out += [(ev.event, ev.rule, ev.seat, ev.t) for ev in events]
    return out


def seat_looks(seat="s01", start=0.0, end=10.0, step=1.0, **kw):
    n = int(round((end - start) / step)) + 1
    return [SeatLook(seat=seat, t=start + i * step, **kw) for i in range(n)]


PHONE = (("cell phone", 0.7),)
BOOK = (("book", 0.8),)


@pytest.mark.parametrize(
    "name, policy, looks, expected",
    [
        (
            "a phone seen for 2 s opens one alert, which closes 10 s after it is gone",
            None,
            seat_looks(end=4, persons=STUDENT, objects=PHONE)
            + seat_looks(start=5, end=20, persons=STUDENT),
            [(OPEN, Rule.DEVICE, "s01", 3.0), (CLOSE, Rule.DEVICE, "s01", 5.0)],
        ),
        (
            "a phone flickering in single frames never opens an alert (median of 3)",
            None,
            [SeatLook("s01", t, persons=STUDENT, objects=PHONE if t % 3 == 0 else ())
             for t in range(0, 30)],
            [],
        ),
        (
            "a phone that is an allowed aid is no alert",
            Policy("s1", allowed_aids=frozenset({"phone"})),
            seat_looks(end=20, persons=STUDENT, objects=PHONE),
            [],
        ),
        (
            "a calculator-only exam still flags a phone",
            Policy("s1", allowed_aids=frozenset({"calculator"})),
            seat_looks(end=5, persons=STUDENT, objects=PHONE),
            [(OPEN, Rule.DEVICE, "s01", 3.0)],
        ),
        (
            "a book below min_score counts as not seen",
            None,
            seat_looks(end=20, persons=STUDENT, objects=(("book", 0.3),)),
            [],
        ),
        (
            "a book held for 3 s is notes; a long one is updated every 15 s",
            None,
            seat_looks(end=40, persons=STUDENT, objects=BOOK),
            [(OPEN, Rule.NOTES, "s01", 4.0), (UPDATE, Rule.NOTES, "s01", 19.0),
             (UPDATE, Rule.NOTES, "s01", 34.0)],
        ),
        (
            "a second person at the seat for 5 s is outside help",
            None,
            seat_looks(end=8, persons=(0.9, 0.7)),
            [(OPEN, Rule.EXTRA_PERSON, "s01", 6.0)],
        ),
        (
            "someone standing by the seat for 10 s",
            None,
            seat_looks(end=12, persons=STUDENT, outsiders=(0.8,)),
            [(OPEN, Rule.OUTSIDER_NEAR_SEAT, "s01", 11.0)],
        ),
        (
            "a seat never taken is no vacated alert",
            None,
            seat_looks(end=100),
            [],
        ),
        (
            "a student who sat 10 s then left for 30 s: seat vacated, closed on return",
            None,
            seat_looks(end=12, persons=STUDENT) + seat_looks(start=13, end=60)
            + seat_looks(start=61, end=70, persons=STUDENT),
            [(OPEN, Rule.SEAT_VACATED, "s01", 45.0), (UPDATE, Rule.SEAT_VACATED, "s01", 60.0),
             (CLOSE, Rule.SEAT_VACATED, "s01", 62.0)],
        ),
        (
            "head turned past 35 degrees for 5 s is an advisory",
            None,
            seat_looks(end=8, persons=STUDENT, yaw=-50.0),
            [(OPEN, Rule.HEAD_TURNED, "s01", 6.0)],
        ),
        (
            "a glance of 3 s is nothing",
            None,
            seat_looks(end=3, persons=STUDENT, yaw=50.0) + seat_looks(start=4, end=20,
                                                                        persons=STUDENT, yaw=5.0),
            [],
        ),
        (
            "head bowed and both hands low for 20 s (after 3 of 5 looks) is an advisory, "
            "closed 5 s after the last look that held",
            None,
            seat_looks(end=30, persons=STUDENT, posture=1.0)
            + seat_looks(start=31, end=45, persons=STUDENT, posture=0.0),
            [(OPEN, Rule.HEAD_DOWN_HANDS_LOW, "s01", 22.0),
             (CLOSE, Rule.HEAD_DOWN_HANDS_LOW, "s01", 32.0)],
        ),
        (
            "head bowed and hands low for 15 s is nothing: a student reading the paper",
            None,
            seat_looks(end=15, persons=STUDENT, posture=1.0)
            + seat_looks(start=16, end=60, persons=STUDENT, posture=0.0),
            [],
        ),
        (
            "head bowed over the paper with the hands on the desk for ten minutes never fires",
            None,
            seat_looks(end=600, step=2.0, persons=STUDENT, posture=0.0),
            [],
        ),
        (
            "no confident pose counts as not seen: a cue broken by a spell of no pose restarts",
            None,
            seat_looks(end=15, persons=STUDENT, posture=1.0)
            + seat_looks(start=16, end=25, persons=STUDENT)
            + seat_looks(start=26, end=40, persons=STUDENT, posture=1.0),
            [],
        ),
        (
            "a missed keypoint now and then does not break a sustained cue (median of 5)",
            None,
            [SeatLook("s01", float(t), persons=STUDENT, posture=None if t % 4 == 3 else 1.0)
             for t in range(0, 30)],
            [(OPEN, Rule.HEAD_DOWN_HANDS_LOW, "s01", 22.0)],
        ),
        (
            "more people than roster + proctors for 10 s",
            Policy("s1", roster_size=20, proctors=1),
            [RoomLook(t=float(t), persons=23) for t in range(0, 12)],
            [(OPEN, Rule.ROOM_OVERCROWDED, None, 11.0)],
        ),
        (
            "roster + proctors exactly is fine",
            Policy("s1", roster_size=20, proctors=1),
            [RoomLook(t=float(t), persons=21) for t in range(0, 30)],
            [],
        ),
        (
            "no roster known: the room count raises nothing",
            None,
            [RoomLook(t=float(t), persons=99) for t in range(0, 30)],
            [],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_rule_table(name, policy, looks, expected):
    assert run(engine(policy), looks) == expected


def test_one_incident_is_one_alert_id_from_open_to_close():
    e = engine()
    events = []
    for look in seat_looks(end=40, persons=STUDENT, objects=BOOK) + seat_looks(
            start=41, end=60, persons=STUDENT):
        events += e.observe_seat(look) + e.tick(look.t)
    assert [ev.event for ev in events] == [OPEN, UPDATE, UPDATE, CLOSE]
    assert {ev.alert_id for ev in events} == {"a1"}
    # the median holds from the 2nd look (t=1) until one look after the book went (t=41)
    assert events[-1].duration_s == pytest.approx(41 - 1)


def test_cooldown_keeps_a_reappearing_object_quiet_then_a_new_alert_opens():
    e = engine(device=RuleParams(min_duration_s=0, clear_after_s=2, cooldown_s=20, window=1))
    looks = (seat_looks(end=1, objects=PHONE) + seat_looks(start=2, end=4)
             + seat_looks(start=5, end=10, objects=PHONE) + seat_looks(start=11, end=14)
             + seat_looks(start=30, end=31, objects=PHONE))
    got = run(e, looks)
    assert got == [(OPEN, Rule.DEVICE, "s01", 0.0), (CLOSE, Rule.DEVICE, "s01", 1.0),
                   (OPEN, Rule.DEVICE, "s01", 30.0)]


def test_no_session_no_alerts_and_stopping_closes_everything():
    e = RulesEngine(new_id=lambda: "x")
    assert run(e, seat_looks(end=20, objects=PHONE)) == []
    e.start_session(Policy("s1"), t=0)
    run(e, seat_looks(end=5, objects=PHONE))
    assert e.open_alerts == {("s01", Rule.DEVICE): "x"}
    closed = e.stop_session(t=6)
    assert [(ev.event, ev.rule) for ev in closed] == [(CLOSE, Rule.DEVICE)]
    assert e.open_alerts == {}
    assert run(e, seat_looks(start=7, end=20, objects=PHONE)) == []


def test_seats_are_independent():
    e = engine()
    looks = []
    for t in range(0, 6):
        looks.append(SeatLook("s01", float(t), persons=STUDENT, objects=PHONE))
        looks.append(SeatLook("s02", float(t), persons=STUDENT))
    got = run(e, looks)
    assert got == [(OPEN, Rule.DEVICE, "s01", 3.0)]


def test_advisory_flag_and_detail():
    e = engine()
    events = []
    for look in seat_looks(end=6, persons=STUDENT, yaw=-48.0):
        events += e.observe_seat(look)
    assert events[0].advisory and events[0].detail == {"yaw_deg": -48.0}
    e2 = engine()
    looks = seat_looks(end=3, persons=STUDENT, objects=PHONE)
    ev = [x for lk in looks for x in e2.observe_seat(lk)]
    assert not ev[0].advisory and ev[0].detail == {"label": "cell phone"}


def test_head_down_hands_low_is_advisory():
    e = engine()
    events = [ev for look in seat_looks(end=25, persons=STUDENT, posture=1.0)
              for ev in e.observe_seat(look)]
    assert [(ev.event, ev.rule) for ev in events] == [(OPEN, Rule.HEAD_DOWN_HANDS_LOW)]
    assert events[0].advisory and events[0].score == 1.0
