"""The README's first command runs ``kuzet demo``: two rooms, each with its own node. Its smoke
mode proves an alert went all the way through on real footage in the hallway room (node →
broker → hub → the proctor's live page), while the classroom room, on the default rules, ran
and raised nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_smoke_sees_alerts_in_the_hallway_and_none_in_the_classroom(tmp_path, vtest_avi):
    began = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "kuzet_tools.cli", "demo", "--smoke", "90",
                          "--workdir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=150)
    took = time.monotonic() - began
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["alerts_on_page"] >= 1
    quiet = result["quiet_room"]
    assert quiet["room"] == "a101" and quiet["alerts"] == 0 and quiet["alerts_on_page"] == 0
    assert quiet["fps"] > 1 and quiet["watched_s"] >= 20     # its node ran, and was watched
    assert took < 90, f"the smoke took {took:.0f} s"
    for node in ("node", "node-a101"):                        # room B's folder, room A's
        assert (tmp_path / node / "data" / "outbox.db").exists()
    assert (tmp_path / "hub").is_dir()
    guide = out.stdout
    for what in ("room A (main/a101): a real classroom", "nothing should be raised",
                 "room B (main/a102): a hallway", "alerts within a minute",
                 "/proctor/room/main/a101", "/proctor/room/main/a102", "'kuzet-demo'",
                 "proctor    proctor", "What to try:"):
        assert what in guide, what


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


ATTRIBUTION = ("Sample videos © Intel Corporation, CC BY 4.0, "
               "https://github.com/intel-iot-devkit/sample-videos")


def test_the_classroom_room_reads_the_shipped_footage_with_its_seats_and_the_default_rules(
        tmp_path):
    import tomllib

    import cv2

    from edge.config import load_config
    from edge.seats import load_seat_map
    from kuzet_tools.examples import CLASSROOM, write_classroom_node

    path = write_classroom_node(tmp_path, broker_port=1883, room="a101")
    cfg = load_config(path)
    assert "rules" not in tomllib.loads(path.read_text())       # the node's own defaults
    assert cfg.source.uri == str(CLASSROOM) and cfg.source.loop
    assert cfg.exam.roster_size == 4
    cap = cv2.VideoCapture(str(CLASSROOM))
    ok, frame = cap.read()
    cap.release()
    assert ok, f"OpenCV cannot read {CLASSROOM}"
    seats = load_seat_map(tmp_path / "seats.json")
    h, w = frame.shape[:2]
    assert tuple(seats.frame_size) == (w, h) and seats.room == "a101"
    assert len(seats.seats) == 4
    for seat in seats.seats:
        assert all(0 <= x <= w and 0 <= y <= h for x, y in seat.polygon), seat.id


def test_the_classroom_footage_carries_its_licence_and_attribution():
    footage = ROOT / "kuzet_tools" / "footage"
    assert ATTRIBUTION in (footage / "README.md").read_text()
    assert ATTRIBUTION in (ROOT / "README.md").read_text()
    assert "Attribution 4.0 International" in (footage / "LICENSE-CC-BY-4.0").read_text()
