"""Shared fixtures: a real mosquitto broker on a free port, temp folders, real footage.

Two tiers (tests/support/tiers.py): every test that starts mosquitto, Chromium or a node on
real footage is marked ``integration`` (using ``broker`` or ``vtest_avi`` marks it); the rest,
``-m "not integration"``, is the fast tier, and a test there that starts one of them fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kuzet_tools.broker import MosquittoBroker
from tests.support.footage import VTEST_AVI

pytest_plugins = [
    "tests.support.tiers",               # the integration mark, set and guarded
    "tests.support.hub_fixtures",        # the hub's app, client, users
    "tests.support.capture_fixtures",    # a fake clock, a photo, a clip of real footage
    "pytester",                          # tests of the tiers' guard run pytest inside pytest
]


def pytest_terminal_summary(terminalreporter):
    """The fault-injection report (tests/support/faults.py), when fault tests ran."""
    from tests.support.faults import write_and_format

    table = write_and_format()
    if table:
        terminalreporter.write_sep("-", "fault injection: messages per scenario (node rows: "
                                   "alerts; hub rows: alerts and their evidence)")
        terminalreporter.write_line(table)


@pytest.fixture
def broker(tmp_path):
    """A fresh mosquitto (Debian package) for one test, on a free loopback port."""
    with MosquittoBroker(tmp_path / "mosquitto") as b:
        yield b


@pytest.fixture(scope="session")
def vtest_avi() -> Path:
    """Real street footage with walking people, from Debian's opencv-doc."""
    path = VTEST_AVI
    if not path.exists():
        pytest.fail(f"{path} missing: install Debian opencv-doc (the test command does)")
    return path


@pytest.fixture(autouse=True)
def _no_gpio_hardware(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", os.environ.get("GPIOZERO_PIN_FACTORY", "mock"))
