"""Load soak (marker ``soak``: not in ./test; run with ./test -m soak): a full exam-hour of
``kuzet bench campus`` (10 buildings x 20 rooms, an alert per room per minute with real-sized
evidence, each building hub pinned to a core) and a broker outage of minutes. No alert lost or
duplicated, every target of the campus bench met, memory flat. ``KUZET_SOAK_MINUTES`` shortens
the exam-hour (e.g. 5) for a quick check."""

from __future__ import annotations

import os

import pytest

from kuzet_tools.bench.campus import bench_campus

MINUTES = float(os.environ.get("KUZET_SOAK_MINUTES", "60"))


@pytest.mark.soak
def test_a_campus_exam_hour():
    r = bench_campus(minutes=MINUTES)
    assert r["pass"] == {k: True for k in r["targets"]}, r
    assert r["building"]["shown"] == r["campus"]["arrived"] == r["alerts"] > 0
    for hub in r["hubs"]:                                          # memory flat
        assert hub["rss_mb_end"] - hub["rss_mb_start"] <= max(20.0, 0.1 * hub["rss_mb_start"])


OUTAGE = float(os.environ.get("KUZET_OUTAGE_SECONDS", "180"))


@pytest.mark.soak
def test_a_broker_outage_of_minutes_loses_nothing(tmp_path, vtest_avi):
    """The node keeps detecting on a looping real video while the broker is down for
    three minutes (``KUZET_OUTAGE_SECONDS``); afterwards every accepted alert arrives."""
    import time

    from kuzet_tools.broker import MosquittoBroker
    from kuzet_tools.examples import write_vtest_node
    from tests.support.faults import record
    from tests.support.messages import alert_ids
    from tests.support.subscriber import Recorder
    from tests.support.wait import wait_until
    from tests.test_node_e2e import journal, start_node

    broker = MosquittoBroker(tmp_path / "mq", persistence=True)
    broker.start()
    rec = Recorder(broker.host, broker.port, client_id="soak-hub")
    cfg = write_vtest_node(tmp_path / "node", broker_port=broker.port, loop=True)
    data = tmp_path / "node" / "data"
    proc = start_node(cfg, tmp_path / "node.log")
    try:
        assert wait_until(lambda: alert_ids(rec), 60)
        broker.stop()
        before = {m for m, k in journal(data).items() if k == "alert"}
        time.sleep(OUTAGE)
        during = {m for m, k in journal(data).items() if k == "alert"} - before
        broker.start()
        assert during, "no alert during the outage: the test proved nothing"
        accepted = {m for m, k in journal(data).items() if k == "alert"}
        assert wait_until(lambda: accepted <= set(alert_ids(rec)), 120)
        row = record(f"node: broker down {OUTAGE:.0f} s", accepted, alert_ids(rec))
        assert row["lost"] == 0 and proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        rec.close()
        broker.stop()
