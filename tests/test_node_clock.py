"""The node's wall clock jumps while it runs, as NTP does to a Raspberry Pi without a real-time
clock: a year forward (a stale fake-hwclock corrected), then an hour back.

libfaketime cannot drive the node (under it Python's ``time.sleep`` fails with EINVAL), so the
node's wall clock is passed in and stepped here; the monotonic clock is the real one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

from edge.config import load_config
from edge.node import EdgeNode
from kuzet_tools.examples import write_vtest_node
from tests.support.faults import record
from tests.support.messages import alert_ids, check_evidence, received
from tests.support.subscriber import Recorder
from tests.support.wait import wait_until

YEAR = 365 * 86400.0


class SteppedClock:
    """The real wall clock plus an offset that the test steps."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def step(self, seconds: float) -> None:
        self.offset += seconds


def evidence_files(data: Path) -> set[Path]:
    return {p for p in (data / "evidence").glob("*/*") if p.suffix in (".jpg", ".avi")}


def closed_delivered(data: Path, node: EdgeNode) -> int:
    """Evidence rows retention could delete: alert closed, message delivered."""
    con = sqlite3.connect(f"file:{data / 'evidence' / 'index.db'}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute("SELECT msg_id FROM evidence WHERE closed=1").fetchall()
    finally:
        con.close()
    return sum(1 for (m,) in rows if m and node.outbox.delivered(m))


def run(node: EdgeNode) -> threading.Thread:
    t = threading.Thread(target=node.run, name="node", daemon=True)
    t.start()
    return t


def test_a_wall_clock_jump_loses_stretches_and_deletes_nothing(tmp_path, broker, vtest_avi,
                                                               caplog):
    t0 = time.monotonic()
    clock = SteppedClock()
    cfg = load_config(write_vtest_node(tmp_path / "n", broker_port=broker.port, fps=20,
                                       loop=True))
    data = Path(cfg.node.data_dir)
    rec = Recorder(broker.host, broker.port)
    node = EdgeNode(cfg, wall_clock=clock,
                    upkeep_every_s=0.5)  # retention runs all the time, not once an hour
    runner = run(node)
    spanning: set[str] = set()           # alerts open across a step
    try:
        # Before: alerts closed and delivered (what retention may delete), and one still open.
        assert wait_until(lambda: closed_delivered(data, node) >= 2 and node.state.open_alerts,
                          90), node.health()     # 40 s was short on a loaded 2-core machine
        before_files = evidence_files(data)
        spanning |= set(node.state.open_alerts)
        clock.step(YEAR)
        assert wait_until(lambda: any(spanning - set(node.state.open_alerts))
                          and len(node.state.open_alerts.keys() - spanning) > 0, 30)
        assert before_files <= evidence_files(data), "retention took today's evidence for old"
        opened = set(node.state.open_alerts)
        assert opened
        spanning |= opened
        clock.step(-3600)
        assert wait_until(lambda: any(opened - set(node.state.open_alerts))
                          and node.state.open_alerts.keys() - spanning, 30)
        assert before_files <= evidence_files(data)
        assert node.threads_alive()
        status = json.loads(rec.on("status")[-1])
        assert status["state"] == "online" and status["source"]["state"] == "ok", status
    finally:
        node.stop_event.set()
        runner.join(30)
    assert not runner.is_alive()
    left_open = set(node.state.open_alerts)   # once stopped: none can close in between

    # Stopped with alerts open: a restart in the same boot closes them with the monotonic
    # duration, however the wall clock moved meanwhile.
    assert left_open
    clock.step(YEAR)
    again = EdgeNode(cfg, wall_clock=clock, detector=node.detector,
                     face_detector=node.face_detector, upkeep_every_s=0.5)
    runner = run(again)
    try:
        assert wait_until(lambda: again.outbox.depth() == 0 and again.stats.looks > 0, 20)
        accepted = {m for m, t in again.outbox.journal() if t.endswith(("/alert", "/evidence"))}
        assert wait_until(lambda: accepted <= set(received(rec)[0]), 20)
        assert before_files <= evidence_files(data)
    finally:
        again.stop_event.set()
        runner.join(30)
    elapsed = time.monotonic() - t0

    msgs, dupes = received(rec)
    accepted = {m for m, t in again.outbox.journal() if t.endswith(("/alert", "/evidence"))}
    alerts_accepted = {m for m, t in again.outbox.journal() if t.endswith("/alert")}
    row = record("node: wall clock +1 year, -1 hour, +1 year", alerts_accepted, alert_ids(rec))
    assert row["lost"] == 0 and row["duplicated"] == 0, row
    assert set(msgs) == accepted and dupes == 0           # every one, once, nothing else
    check_evidence(msgs)                                  # every sha256 verifies
    # Retention deleted nothing: every evidence file written is still on the node.
    evidence_ids = {m["evidence_id"] for m in msgs.values() if m["type"] == "evidence"}
    assert {p.stem for p in evidence_files(data)} == evidence_ids

    alerts = [m for m in msgs.values() if m["type"] == "alert"]
    by_alert: dict[str, list[dict]] = {}
    for m in alerts:
        by_alert.setdefault(m["alert_id"], []).append(m)
    for m in alerts:
        assert 0 <= m["duration_s"] <= elapsed, m       # monotonic: never a year long
        if m["event"] == "close":
            start, end = (datetime.fromisoformat(m[k]) for k in ("started_at", "ended_at"))
            assert abs((end - start).total_seconds() - m["duration_s"]) < 0.01, m
    for events in by_alert.values():                      # one incident, one start time
        assert len({m["started_at"] for m in events}) == 1, events
    closes = {m["alert_id"]: m for m in alerts if m["event"] == "close"}
    assert spanning <= set(closes)                        # every alert across a step closed
    assert left_open <= {a for a, m in closes.items()
                         if m["detail"].get("closed_by") == "node restart"}
    # Timestamps follow the wall clock: a message sent after the first step says so.
    sent = [datetime.fromisoformat(m["sent_at"]).timestamp() for m in alerts]
    assert max(sent) - min(sent) > YEAR
    beats = [json.loads(p) for p in rec.on("heartbeat")]
    assert beats and all(b["uptime_s"] <= elapsed for b in beats)
    assert json.loads(rec.on("status")[-1])["state"] == "offline"   # said so when it stopped
    steps = [r for r in caplog.records if "wall clock moved" in r.getMessage()]
    assert len(steps) >= 2
    rec.close()
