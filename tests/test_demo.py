"""The README's first command runs ``kuzet demo``: its smoke mode proves an alert went all the
way through on real footage: node → broker → hub → the proctor's live page."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_smoke_sees_an_alert_arrive(tmp_path, vtest_avi):
    out = subprocess.run([sys.executable, "-m", "kuzet_tools.cli", "demo", "--smoke", "90",
                          "--workdir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=150)
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["alerts_on_page"] >= 1
    assert (tmp_path / "node" / "data" / "outbox.db").exists()
    assert (tmp_path / "hub").is_dir()


def _running(pattern: str) -> list[str]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return out.stdout.split()


def test_sigterm_stops_the_demo_and_its_broker_as_ctrl_c_does(tmp_path, vtest_avi):
    demo = subprocess.Popen([sys.executable, "-m", "kuzet_tools.cli", "demo", "--workdir",
                             str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        for line in demo.stdout:                  # the demo is up once it says how to stop it
            if "Ctrl-C stops" in line:
                break
        assert demo.poll() is None
        broker = str(tmp_path / "broker")
        assert _running(broker), "the demo's mosquitto should be running"
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while _running(broker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(broker), "SIGTERM left the demo's mosquitto running"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
        demo.stdout.close()
