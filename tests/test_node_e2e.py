"""The whole node on real footage: ``kuzet edge run`` as a process, a real mosquitto, a real
subscriber. Nothing the node accepted may be lost: not across a broker outage, not across a
``kill -9``."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kuzet_tools.broker import MosquittoBroker, free_port
from kuzet_tools.examples import write_vtest_node
from tests.support.faults import record
from tests.support.messages import alert_ids, check_evidence, received
from tests.support.subscriber import Recorder
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[1]


def start_node(config: Path, log: Path, *extra: str) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "kuzet_tools.cli", "edge", "run", "--config",
                                 str(config), *extra], cwd=ROOT, stdout=fh, stderr=fh)


def journal(data_dir: Path, kinds=("alert", "evidence")) -> dict[str, str]:
    """msg_id -> kind of everything the node accepted (read-only, while it may run)."""
    db = data_dir / "outbox.db"
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute("SELECT msg_id, topic FROM journal").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()
    return {m: t.rsplit("/", 1)[1] for m, t in rows if t.rsplit("/", 1)[1] in kinds}


def test_real_video_alerts_arrive_exactly_once_across_a_broker_outage(tmp_path, vtest_avi):
    broker = MosquittoBroker(tmp_path / "mq", persistence=True)
    broker.start()
    rec = Recorder(broker.host, broker.port, client_id="test-hub")
    cfg = write_vtest_node(tmp_path / "node", broker_port=broker.port, fps=20)
    data = tmp_path / "node" / "data"
    proc = start_node(cfg, tmp_path / "node.log", "--stop-at-end")
    try:
        assert wait_until(lambda: any(t.endswith("/alert") for t, _, _ in rec.messages), 40), \
            (tmp_path / "node.log").read_text()[-3000:]
        broker.stop()
        before = set(journal(data))
        time.sleep(8)                                     # the node keeps detecting
        during = set(journal(data)) - before
        broker.start()
        assert proc.wait(timeout=150) == 0, (tmp_path / "node.log").read_text()[-3000:]
        accepted = journal(data)
        assert wait_until(lambda: set(accepted) <= set(received(rec)[0]), 30)
        msgs, dupes = received(rec)
        record("node: broker stopped 8 s mid-run", {m for m, k in accepted.items()
                                                    if k == "alert"}, alert_ids(rec))
        assert set(msgs) == set(accepted)                 # every one, and nothing else
        assert during, "no alert was accepted during the outage: the test proved nothing"
        assert during <= set(msgs)
        check_evidence(msgs)
        statuses = [json.loads(p) for t, p, _ in rec.messages if t.endswith("/status")]
        assert statuses[-1]["state"] == "offline"         # said so when it stopped
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.close()
        broker.stop()


def test_kill_9_loses_nothing_queued(tmp_path, vtest_avi):
    port = free_port()                                   # no broker yet: all stays queued
    cfg = write_vtest_node(tmp_path / "node", broker_port=port, fps=20)
    data = tmp_path / "node" / "data"
    proc = start_node(cfg, tmp_path / "node.log")
    try:
        assert wait_until(lambda: sum(1 for k in journal(data).values() if k == "alert") >= 3,
                          60), (tmp_path / "node.log").read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    accepted = journal(data)
    con = sqlite3.connect(data / "outbox.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == len(
        con.execute("SELECT msg_id FROM journal").fetchall())   # nothing was sent
    con.close()
    state = json.loads((data / "state.json").read_text())
    left_open = set(state["open_alerts"])

    with MosquittoBroker(tmp_path / "mq", port=port, persistence=True) as broker:
        rec = Recorder(broker.host, broker.port, client_id="test-hub")
        proc = start_node(cfg, tmp_path / "node2.log")
        try:
            assert wait_until(lambda: set(accepted) <= set(received(rec)[0]), 60), \
                (tmp_path / "node2.log").read_text()[-3000:]
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0
            rec.close()
    msgs, _ = received(rec)
    record("node: kill -9 with a queue, restarted", {m for m, k in accepted.items()
                                                      if k == "alert"}, alert_ids(rec))
    alerts = [m for m in msgs.values() if m["type"] == "alert"]
    closed_by_restart = {m["alert_id"] for m in alerts
                         if m["event"] == "close"
                         and m["detail"].get("closed_by") == "node restart"}
    assert left_open and left_open <= closed_by_restart


@pytest.mark.parametrize("bad, message", [
    ("[node]\nbuilding='main'\nroom='a101'\nname='cam1'\ncolour='red'\n", "node.colour"),
    ("[node]\nbuilding='main'\nroom='a 101'\nname='cam1'\n", "node.room"),
    ("not = [valid", "not valid TOML"),
])
def test_a_bad_config_names_the_file_and_key(tmp_path, bad, message):
    path = tmp_path / "node.toml"
    path.write_text(bad + "\nseat_map='s.json'\n[source]\ntype='opencv'\nuri='x.avi'\n"
                    if "[node]" in bad else bad)
    out = subprocess.run([sys.executable, "-m", "kuzet_tools.cli", "edge", "run", "--config",
                          str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert str(path) in out.stderr and message in out.stderr
    assert "Traceback" not in out.stderr


def test_edge_check_reports_each_part(tmp_path, broker, vtest_avi):
    cfg = write_vtest_node(tmp_path / "node", broker_port=broker.port)
    out = subprocess.run([sys.executable, "-m", "kuzet_tools.cli", "edge", "check", "--config",
                          str(cfg)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    for part in ("config", "seat map", "source", "models", "broker"):
        assert f"ok   {part}:" in out.stdout
    broken = write_vtest_node(tmp_path / "b", broker_port=free_port(),
                              video=tmp_path / "missing.avi")
    out = subprocess.run([sys.executable, "-m", "kuzet_tools.cli", "edge", "check", "--config",
                          str(broken)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "FAIL source" in out.stdout and "missing.avi" in out.stdout
    assert "FAIL broker" in out.stdout
    assert "ok   models" in out.stdout


def test_the_example_pi_config_is_valid():
    from edge.config import load_config
    from kuzet.contract import Rule

    cfg = load_config(ROOT / "provisioning" / "node.example.toml")
    assert cfg.source.type == "picamera2" and cfg.gpio.enabled
    assert cfg.rules.params()[Rule.SEAT_VACATED].min_duration_s == 30
    assert cfg.rules.params()[Rule.DEVICE].cooldown_s == 30       # the default stays
