"""Faults on the hub's side, with real processes: the hub is ``kill -9``-ed in the middle of
ingest (mid-write, mid-commit) and restarted. Every message the node's outbox accepted is in
the hub's database exactly once by id afterwards, and every evidence file verifies."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.outbox import Outbox
from edge.publisher import BrokerSettings, MqttPublisher
from kuzet import contract
from kuzet_tools.bench.hub import seed_users, wait_for_port, write_hub_config
from kuzet_tools.bench.sim import alert_for, evidence_for, snapshot_jpeg
from kuzet_tools.broker import MosquittoBroker, free_port
from tests.support.faults import fill, record, tmpfs
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration     # mosquitto and the hub as processes

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = contract.Origin(building="main", room="a101", node="cam1")


def start_hub(cfg: Path, log: Path, port: int) -> subprocess.Popen:
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "kuzet_tools.cli", "hub", "run", "--config",
                                 str(cfg)], cwd=ROOT, stdout=fh, stderr=fh)
    wait_for_port(port, proc)
    return proc


def queue_alerts(box: Outbox, n: int, jpeg: bytes) -> set[str]:
    """``n`` alerts, each with its snapshot, into the node's outbox; their message ids."""
    ids = set()
    for i in range(n):
        aid = contract.new_id()
        ev = evidence_for(ORIGIN, aid, jpeg, kind="snapshot")
        al = alert_for(ORIGIN, f"r1s{i % 6 + 1}", alert_id=aid, evidence=[ev])
        for kind, msg in (("alert", al), ("evidence", ev)):
            box.add(msg.id, contract.topic(ORIGIN, kind), contract.encode(msg))
            ids.add(msg.id)
    return ids


def counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("seen", "alerts", "evidence")}
    finally:
        con.close()




def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"    # not a zombie


@pytest.mark.parametrize("evidence_process", [False, True], ids=["one process", "two"])
def test_hub_killed_mid_ingest_recovers_with_every_message_once(tmp_path, evidence_process):
    n = 400
    jpeg = snapshot_jpeg(320, 240, [[20, 20], [300, 20], [300, 220], [20, 220]])
    with MosquittoBroker(tmp_path / "mq", persistence=True) as broker:
        web = free_port()
        cfg = write_hub_config(tmp_path, broker.port, web, evidence_process=evidence_process)
        seed_users(cfg)
        db = tmp_path / "hub" / "hub.db"
        hub = start_hub(cfg, tmp_path / "hub.log", web)
        box = Outbox(tmp_path / "node" / "outbox.db")
        node = MqttPublisher(BrokerSettings(host=broker.host, port=broker.port), ORIGIN, box)
        node.start()
        try:
            ids = queue_alerts(box, n, jpeg)         # the node accepts n alerts with evidence
            assert wait_until(lambda: db.exists() and counts(db)["seen"] >= 100, 60)
            children = [int(p) for p in subprocess.run(
                ["pgrep", "-P", str(hub.pid)], capture_output=True, text=True).stdout.split()]
            assert bool(children) == evidence_process      # (and spawn's resource tracker)
            hub.send_signal(signal.SIGKILL)          # power loss in the middle of ingest
            hub.wait()
            for child in children:                   # an orphaned evidence process leaves
                assert wait_until(lambda c=child: not alive(c), 15)
            at_kill = counts(db)["seen"]
            assert at_kill < 2 * n, "the hub had finished: the kill proved nothing"
            con = sqlite3.connect(db)
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            con.close()
            hub = start_hub(cfg, tmp_path / "hub.log", web)   # back, without a human
            assert wait_until(lambda: counts(db)["seen"] >= 2 * n and box.depth() == 0, 120), \
                (counts(db), box.depth())
        finally:
            node.stop()
            hub.terminate()
            hub.wait(timeout=20)
    con = sqlite3.connect(db)
    seen = {r[0] for r in con.execute("SELECT msg_id FROM seen")}
    record(f"hub: kill -9 mid-ingest, restarted{' (2 proc.)' if evidence_process else ''}",
           ids, list(seen))
    assert ids <= seen                                # every accepted message, once by id
    assert counts(db)["alerts"] == n and counts(db)["evidence"] == n
    for file, sha in con.execute("SELECT file, sha256 FROM evidence"):
        path = tmp_path / "hub" / "evidence" / file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    con.close()


def test_a_full_disk_on_the_hub_loses_nothing(tmp_path):
    n = 40
    jpeg = snapshot_jpeg(320, 240, [[20, 20], [300, 20], [300, 220], [20, 220]])
    disk = tmp_path / "hub"
    filler = disk / "filler"
    with tmpfs(disk, "4M"):
        with MosquittoBroker(tmp_path / "mq", persistence=True) as broker:
            web = free_port()
            cfg = write_hub_config(tmp_path, broker.port, web)
            seed_users(cfg)
            db = disk / "hub.db"
            hub = start_hub(cfg, tmp_path / "hub.log", web)
            box = Outbox(tmp_path / "node" / "outbox.db")
            node = MqttPublisher(BrokerSettings(host=broker.host, port=broker.port), ORIGIN,
                                 box)
            node.start()
            try:
                fill(filler)                               # the hub's disk fills up
                ids = queue_alerts(box, n, jpeg)
                time.sleep(5)
                assert hub.poll() is None, "the hub died on the full disk"
                assert counts(db)["seen"] < 2 * n          # nothing could be stored
                filler.unlink()                            # space again
                assert wait_until(lambda: counts(db)["seen"] >= 2 * n, 60), counts(db)
                assert hub.poll() is None
            finally:
                node.stop()
                hub.terminate()
                hub.wait(timeout=20)
        con = sqlite3.connect(db)
        stored = [r[0] for r in con.execute("SELECT msg_id FROM seen")]
        record("hub: disk full, then freed", ids, stored)
        assert ids <= set(stored)
        assert con.execute("SELECT COUNT(*) FROM rejected").fetchone()[0] == 0
        for file, sha in con.execute("SELECT file, sha256 FROM evidence"):
            assert hashlib.sha256((disk / "evidence" / file).read_bytes()).hexdigest() == sha
        con.close()
