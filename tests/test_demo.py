"""The README's first command runs ``kuzet demo``: its smoke mode proves an alert went all the
way through on real footage: node → broker → hub → the proctor's live page."""

from __future__ import annotations

import json
import subprocess
import sys
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
