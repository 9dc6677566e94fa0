"""Every unit passes ``systemd-analyze verify`` without a warning."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[1] / "systemd"
KUZET = "/opt/kuzet/.venv/bin/kuzet"


def units() -> list[Path]:
    return sorted(p for p in UNITS.iterdir() if p.suffix in (".service", ".timer"))


def test_there_are_units_for_each_service():
    names = {p.name for p in units()}
    assert {"kuzet-edge.service", "kuzet-hub.service", "kuzet-retention.service",
            "kuzet-retention.timer"} <= names
    assert (UNITS / "mosquitto.service.d" / "kuzet.conf").exists()


@pytest.mark.parametrize("unit", units(), ids=lambda p: p.name)
def test_unit_verifies_cleanly(unit, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    # The units point at the Pi's install; here the command is this test's Python.
    for p in units():
        (tmp_path / p.name).write_text(p.read_text().replace(KUZET, sys.executable))
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", unit.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr


def test_the_node_unit_has_watchdog_and_hardening():
    text = (UNITS / "kuzet-edge.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=always", "User=kuzet",
                 "ProtectSystem=strict", "PrivateTmp=true", "NoNewPrivileges=true",
                 "DevicePolicy=closed"):
        assert line in text


@pytest.mark.parametrize("script", ["provisioning/pi-setup.sh", "scripts/bootstrap", "test",
                                    "demo", ".ci/run"])
def test_shell_scripts_pass_shellcheck(script):
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing (Debian package shellcheck; ./test installs it)")
    out = subprocess.run(["shellcheck", script], cwd=UNITS.parent, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout
