"""The node's LED and button (gpiozero).

The LED tells students the node is watching: on during an exam session, blinking while the
broker is unreachable during one, off otherwise. The button starts or stops the exam session
at the node. The pin factory is passed in (gpiozero's MockFactory in tests); gpiozero's
``GPIOZERO_PIN_FACTORY`` picks one by name otherwise.
"""

from __future__ import annotations

from collections.abc import Callable


class Indicator:
    def __init__(self, led_pin: int | str, button_pin: int | str | None = None, *,
                 pin_factory=None, on_press: Callable[[], None] | None = None) -> None:
        from gpiozero import LED, Button

        self.led = LED(led_pin, pin_factory=pin_factory)
        self.button = None
        if button_pin is not None:
            self.button = Button(button_pin, pull_up=True, bounce_time=0.05,
                                 pin_factory=pin_factory)
            if on_press is not None:
                self.button.when_pressed = lambda: on_press()
        self.state = "off"

    def show(self, session_active: bool, broker_ok: bool) -> None:
        """Set the LED for the current state (idempotent: called every second)."""
        state = "off" if not session_active else ("on" if broker_ok else "blink")
        if state == self.state:
            return
        self.state = state
        if state == "on":
            self.led.on()
        elif state == "blink":
            self.led.blink(on_time=0.5, off_time=0.5)
        else:
            self.led.off()

    def close(self) -> None:
        self.led.close()
        if self.button is not None:
            self.button.close()
