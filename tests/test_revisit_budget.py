"""The revisit budget (edge/budget.py) on a fake clock: sweeps over the 2 s bound shed one step
of optional work at a time, each step logged; sweeps back well under the bound bring it back,
with hysteresis; the state says it all."""

from __future__ import annotations

import pytest

from edge.budget import MAX_LEVEL, SHED_STEPS, BudgetState, RevisitBudget
from tests.fakes.clock import FakeClock


def run(budget: RevisitBudget, clock: FakeClock, sweep_s: float, seconds: float
        ) -> BudgetState:
    """Sweeps of ``sweep_s`` back to back for ``seconds``, observed every second as the
    node's supervise loop does; the last state."""
    end, next_sweep = clock.now + seconds, clock.now + sweep_s
    state = budget.observe()
    while clock.now < end:
        clock.sleep(1.0)
        while next_sweep <= clock.now:
            budget.sweep(sweep_s)
            next_sweep += sweep_s
        state = budget.observe()
    return state


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def warned():
    return []


@pytest.fixture
def budget(clock, warned):
    return RevisitBudget(2.0, clock=clock, warn=warned.append)


def test_within_the_bound_nothing_is_shed_or_said(budget, clock, warned):
    state = run(budget, clock, 1.2, 120)
    assert state == BudgetState(revisit_s=1.2, over_budget=False, shed_level=0)
    assert state.reasons() == [] and warned == []


def test_before_any_sweep_the_node_says_nothing(budget):
    assert budget.observe() == BudgetState()


def test_slow_sweeps_say_so_at_once_and_shed_second_looks_after_five_seconds(
        budget, clock, warned):
    state = run(budget, clock, 3.0, 4)
    assert state.over_budget and state.revisit_s == 3.0 and state.shed_level == 0
    assert state.reasons() == ["revisit slow: seats wait longer than the 2 s bound between "
                               "looks"]
    state = run(budget, clock, 3.0, 5)
    assert state.shed_level == 1 and state.shed == ("second_looks",)
    assert warned == ["revisit slow (3.0 s > 2 s): shedding second looks (second phone "
                      "detector, hands) (shed level 1)"]
    assert "shedding to keep the revisit bound: second looks (second phone detector, hands)" \
        in state.reasons()


def test_still_slow_after_shedding_sheds_the_next_step_then_says_it_cannot(
        budget, clock, warned):
    state = run(budget, clock, 3.0, 60)
    assert state.shed_level == MAX_LEVEL and state.shed == SHED_STEPS
    assert state.over_budget
    assert state.reasons()[0].endswith("between looks with all optional work shed")
    assert len(warned) == MAX_LEVEL                # one line per step, none after the last
    assert "faces on unchanged seats" in warned[1]


def test_a_new_level_is_judged_by_its_own_sweeps(budget, clock):
    run(budget, clock, 3.0, 10)                    # level 1 from about 7 s
    state = run(budget, clock, 1.8, 60)           # shedding was enough: within the bound
    assert state.shed_level == 1 and not state.over_budget and state.revisit_s == 1.8


def test_back_under_restores_one_step_at_a_time_with_hysteresis(budget, clock, warned):
    run(budget, clock, 3.0, 60)
    assert budget.level == 2
    state = run(budget, clock, 1.6, 120)          # under 2 s but not under 1.5 s: stays
    assert state.shed_level == 2 and not state.over_budget
    # under 1.5 s: once the slower sweeps have left the 10 s window, for 30 s
    state = run(budget, clock, 1.0, 38)
    assert state.shed_level == 2
    state = run(budget, clock, 1.0, 4)
    assert state.shed_level == 1
    assert warned[-1] == ("revisit back under 1.5 s (1.0 s): faces on unchanged seats back on "
                          "(shed level 1)")
    state = run(budget, clock, 1.0, 40)
    assert state.shed_level == 0 and state.reasons() == []
    assert warned[-1].endswith("second looks (second phone detector, hands) back on "
                               "(shed level 0)")


def test_one_slow_sweep_is_not_a_reason_to_shed(budget, clock):
    run(budget, clock, 1.0, 30)
    budget.sweep(2.5)                              # a hiccup: evidence written, a clip
    state = run(budget, clock, 1.0, 11)           # it leaves the 10 s window
    assert state.shed_level == 0 and not state.over_budget


@pytest.mark.parametrize("kwargs", [{"fall_below": 1.0}, {"fall_below": 0}, {"bound_s": 0},
                                    {"rise_after_s": -1}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        RevisitBudget(**kwargs)
