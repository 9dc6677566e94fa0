"""The changed-face rule in the rules core: the seat's face compared with its check-in face
every ~15 s (``SeatLook.face_sim``), the advisory raised only when it stays unlike."""

from __future__ import annotations

import itertools

from edge.rules import DEFAULT_PARAMS, FACE_THRESHOLD, Policy, RulesEngine, SeatLook
from kuzet.contract import ADVISORY_RULES, AlertEvent, Rule

OPEN, UPDATE, CLOSE = AlertEvent.OPEN, AlertEvent.UPDATE, AlertEvent.CLOSE
SAME, OTHER = 0.8, 0.2          # cosine similarities of the same person and of another one
EVERY = 15.0                    # a comparison per seat this often; looks between carry none


def engine(face_check: bool = True) -> RulesEngine:
    counter = itertools.count(1)
    e = RulesEngine(new_id=lambda: f"a{next(counter)}")
    e.start_session(Policy(session_id="s1", face_check=face_check), t=0.0)
    return e


def script(sims: list[float | None], step: float = 1.0) -> list[SeatLook]:
    """A look every ``step`` s at seat s01 (the student seated); every EVERY s one carries the
    next similarity of ``sims`` (None: no good face then)."""
    looks, per = [], int(EVERY / step)
    for i, sim in enumerate(sims):
        for j in range(per):
            t = (i * per + j) * step
            looks.append(SeatLook("s01", t, persons=(0.8,), face_sim=sim if j == 0 else None))
    return looks


def face_events(e: RulesEngine, looks: list[SeatLook]) -> list[tuple]:
    out = []
    for look in looks:
        out += [(ev.event, ev.t, ev.detail.get("similarity"), ev.score)
                for ev in e.observe_seat(look) + e.tick(look.t) if ev.rule == Rule.FACE_CHANGED]
    return out


def test_it_is_an_advisory_rule():
    assert Rule.FACE_CHANGED in ADVISORY_RULES
    assert DEFAULT_PARAMS[Rule.FACE_CHANGED].clear_after_s > EVERY


def test_the_same_person_all_exam_raises_nothing():
    assert face_events(engine(), script([SAME] * 40)) == []


def test_a_single_unlike_comparison_raises_nothing():
    """A face half hidden by a hand, a bad frame: one comparison of three is no majority."""
    sims = [SAME] * 5 + [OTHER] + [SAME] * 10 + [OTHER, SAME, OTHER, SAME] * 3
    assert face_events(engine(), script(sims)) == []


def test_another_person_who_stays_raises_one_advisory_after_three_comparisons():
    """Switched after 5 comparisons (t=75): unlike at 75, 90 (the median of 3 holds), 105
    (15 s held): it opens at t=105, 30 s after the switch, naming the similarity."""
    events = face_events(engine(), script([SAME] * 5 + [OTHER] * 6))
    assert events[0][:3] == (OPEN, 105.0, OTHER)
    assert events[0][3] == round(1 - OTHER, 4)
    assert [ev[0] for ev in events] == [OPEN]          # held: the comparisons keep it open


def test_it_closes_a_minute_after_the_checked_in_face_is_back():
    """Unlike at 75..120, like again from 135: the median of 3 holds at 135 still (two unlike
    of three), not at 150; the close comes 60 s after 135 and says the incident ended then."""
    e = engine()
    sims = [SAME] * 5 + [OTHER] * 4 + [SAME] * 8
    closes = []
    for look in script(sims):
        closes += [look.t for ev in e.observe_seat(look) + e.tick(look.t)
                   if ev.rule == Rule.FACE_CHANGED and ev.event == CLOSE]
    assert closes == [195.0]
    events = face_events(engine(), script(sims))
    assert [(ev[0], ev[1]) for ev in events] == [(OPEN, 105.0), (CLOSE, 135.0)]


def test_looks_without_a_comparison_neither_raise_nor_close_it():
    """Between comparisons (every 15 s) the rule is not fed; nor when no good face is seen
    (turned away, out of the seat) for less than its clear time."""
    sims = [SAME] * 3 + [OTHER] * 3 + [None, None] + [OTHER]
    events = face_events(engine(), script(sims))
    assert [ev[0] for ev in events] == [OPEN]


def test_the_threshold_is_the_similarity_below_which_two_faces_are_two_people():
    just_above = FACE_THRESHOLD + 0.05
    just_below = FACE_THRESHOLD - 0.05
    assert face_events(engine(), script([SAME] * 2 + [just_above] * 8)) == []
    assert face_events(engine(), script([SAME] * 2 + [just_below] * 8))[0][0] == OPEN


def test_an_exam_that_did_not_opt_in_never_raises_it():
    assert face_events(engine(face_check=False), script([SAME] * 2 + [OTHER] * 10)) == []


def test_the_end_of_the_exam_closes_it():
    e = engine()
    assert face_events(e, script([SAME] * 2 + [OTHER] * 4))[0][0] == OPEN
    closed = [ev for ev in e.stop_session(100.0) if ev.rule == Rule.FACE_CHANGED]
    assert [ev.event for ev in closed] == [CLOSE]
    assert closed[0].advisory
