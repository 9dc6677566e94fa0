"""The LED and button, on gpiozero's own MockFactory."""

from __future__ import annotations

import time

import pytest
from gpiozero.pins.mock import MockFactory

from edge.gpio import Indicator


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


@pytest.mark.parametrize("session, broker, expected", [
    (False, True, "off"), (False, False, "off"), (True, True, "on"), (True, False, "blink"),
])
def test_led_shows_session_and_broker_state(factory, session, broker, expected):
    ind = Indicator(17, None, pin_factory=factory)
    ind.show(session, broker)
    assert ind.state == expected
    pin = factory.pin(17)
    if expected == "on":
        assert pin.state is True
    elif expected == "off":
        assert pin.state is False
    else:                                   # blinking: the pin toggles on its own
        seen = set()
        deadline = time.monotonic() + 3
        while len(seen) < 2 and time.monotonic() < deadline:
            seen.add(pin.state)
            time.sleep(0.05)
        assert seen == {True, False}
    ind.close()


def test_button_press_calls_back(factory):
    presses = []
    ind = Indicator(17, 27, pin_factory=factory, on_press=lambda: presses.append(1))
    btn = factory.pin(27)
    btn.drive_low()                         # pressed (pull-up: active low)
    btn.drive_high()
    deadline = time.monotonic() + 2
    while not presses and time.monotonic() < deadline:
        time.sleep(0.01)
    assert presses == [1]
    ind.close()
