"""Ingest with a real mosquitto: alerts, evidence, status and heartbeats reach SQLite and the
evidence folder; duplicates and replays change nothing; invalid messages are logged, counted
and dropped; the persistent session keeps what arrives while the hub is down."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from hub.services import HubServices
from hub.store.db import connect
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, alert_for, evidence_for
from kuzet_tools.broker import MosquittoBroker
from tests.support.hub_env import make_config
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration     # a real mosquitto in every test

ORIGIN = contract.Origin(building="main", room="a101", node="cam1")
JPEG = b"\xff\xd8\xff\xe0" + b"kuzet test jpeg" * 20 + b"\xff\xd9"


def rows(svc, sql: str, *args):
    conn = connect(svc.db_path, readonly=True)
    try:
        return [dict(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


@pytest.fixture
def hub(tmp_path, broker):
    svc = HubServices(make_config(tmp_path, broker.port)).start(ingest=True)
    assert svc.ingest.connected.wait(10)
    yield svc
    svc.stop()


@pytest.fixture
def node(broker):
    sim = NodeSim(broker.host, broker.port, ORIGIN)
    yield sim
    sim.close()


def test_alert_and_evidence_are_stored_with_verified_files(hub, node):
    alert, (ev,) = node.alert_with_evidence("r2s3", jpeg=JPEG)
    assert wait_until(lambda: rows(hub, "SELECT * FROM evidence"))
    (a,) = rows(hub, "SELECT * FROM alerts")
    assert (a["alert_id"], a["seat"], a["rule"], a["status"], a["decision"]) == \
        (alert.alert_id, "r2s3", "device", "open", "new")
    (e,) = rows(hub, "SELECT * FROM evidence")
    path = hub.evidence.resolve(e["file"])
    assert path.read_bytes() == JPEG
    assert e["sha256"] == hashlib.sha256(JPEG).hexdigest() == ev.sha256
    assert path.parent.parent == hub.evidence.root and path.name == f"{ev.evidence_id}.jpg"


def test_a_burst_of_small_and_large_messages_is_read_whole(hub, node):
    """The ingest client reads ahead (hub.ingest.ReadAheadClient): many packets in one read,
    and a clip larger than one read spread over several, must each arrive whole."""
    clip = bytes(range(256)) * 12_000                 # 3 MB, many reads of 64 KiB
    sent = []
    for i in range(150):
        alert_id = contract.new_id()
        big = i == 70
        ev = evidence_for(ORIGIN, alert_id, clip if big else JPEG + bytes([i]),
                          kind="clip" if big else "snapshot",
                          content_type="video/x-msvideo" if big else "image/jpeg")
        node.publish(alert_for(ORIGIN, f"s{i % 30}", alert_id=alert_id, evidence=[ev]),
                     wait=False)
        node.publish(ev, wait=False)
        node.heartbeat()
        sent.append(ev)
    assert wait_until(lambda: len(rows(hub, "SELECT * FROM evidence")) == 150, timeout=30)
    stored = {e["evidence_id"]: e for e in rows(hub, "SELECT * FROM evidence")}
    for ev in sent:
        data = hub.evidence.resolve(stored[ev.evidence_id]["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == ev.sha256
    assert len(rows(hub, "SELECT * FROM alerts")) == 150
    assert hub.ingest.invalid == 0 and not rows(hub, "SELECT * FROM rejected")


def test_duplicates_and_replays_change_nothing(hub, node):
    alert, (ev,) = node.alert_with_evidence("r1s1", jpeg=JPEG)
    assert wait_until(lambda: rows(hub, "SELECT * FROM evidence"))
    before = rows(hub, "SELECT * FROM alerts")
    for _ in range(3):                         # the outbox replays the very same messages
        node.publish(alert)
        node.publish(ev)
    node.heartbeat()                           # a marker: once it is stored, so are the replays
    assert wait_until(lambda: rows(hub, "SELECT * FROM heartbeats"))
    assert wait_until(lambda: hub.writer.duplicates >= 6)
    assert rows(hub, "SELECT * FROM alerts") == before
    assert len(rows(hub, "SELECT * FROM evidence")) == 1


def test_close_wins_over_a_late_update(hub, node):
    aid = contract.new_id()
    opened = alert_for(ORIGIN, "r1s2", alert_id=aid)
    update = alert_for(ORIGIN, "r1s2", event="update", alert_id=aid, duration_s=5)
    close = alert_for(ORIGIN, "r1s2", event="close", alert_id=aid, duration_s=6)
    for m in (opened, close, update):          # the update arrives after the close
        node.publish(m)
    node.heartbeat()                           # a marker: processed after the three
    assert wait_until(lambda: rows(hub, "SELECT * FROM heartbeats"))
    (a,) = rows(hub, "SELECT * FROM alerts")
    assert a["status"] == "closed" and a["ended_at"] is not None and a["duration_s"] == 6


def test_a_later_update_wins_even_if_the_nodes_clock_went_back(hub, node):
    from datetime import timedelta

    aid = contract.new_id()
    opened = alert_for(ORIGIN, "r1s2", alert_id=aid, duration_s=2)
    update = alert_for(ORIGIN, "r1s2", event="update", alert_id=aid, duration_s=9)
    update = update.model_copy(update={"sent_at": opened.sent_at - timedelta(hours=1),
                                       "detail": {"label": "book"}})
    for m in (opened, update):                 # NTP set the node's clock back in between
        node.publish(m)
    node.heartbeat()
    assert wait_until(lambda: rows(hub, "SELECT * FROM heartbeats"))
    (a,) = rows(hub, "SELECT * FROM alerts")
    assert (a["last_event"], a["duration_s"], json.loads(a["detail"])) == \
        ("update", 9, {"label": "book"})


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "invalid message"),
    (b'{"schema": "kuzet/2", "type": "alert"}', "invalid message"),
    (b"\xff\xfe", "not UTF-8"),
    (json.dumps({"schema": "kuzet/1", "type": "heartbeat", "id": "x" * 32}).encode(),
     "invalid message"),
])
def test_invalid_messages_are_logged_counted_and_dropped(hub, node, payload, reason, caplog):
    caplog.set_level(logging.WARNING, logger="hub")
    node.publish_raw("alert", payload)
    assert wait_until(lambda: hub.writer.rejected == 1)
    assert any(reason in r.getMessage() and "kuzet/v1/main/a101/cam1/alert" in r.getMessage()
               for r in caplog.records)
    assert rows(hub, "SELECT value FROM counters WHERE name='rejected'") == [{"value": 1}]
    node.alert_with_evidence("r1s1", jpeg=JPEG)          # the worker keeps running
    assert wait_until(lambda: rows(hub, "SELECT * FROM evidence"))


def test_wrong_origin_and_bad_hash_are_rejected(hub, node):
    other = contract.Origin(building="main", room="b202", node="cam9")
    node.publish(alert_for(other, "r1s1"), kind="alert")          # speaks for another node
    bad = evidence_for(ORIGIN, contract.new_id(), JPEG)
    node.publish(bad.model_copy(update={"sha256": "0" * 64}))
    assert wait_until(lambda: hub.writer.rejected == 2)
    reasons = [r["reason"] for r in rows(hub, "SELECT reason FROM rejected ORDER BY id")]
    assert "does not match topic" in reasons[0] and "sha256" in reasons[1]
    assert rows(hub, "SELECT * FROM alerts") == [] and rows(hub, "SELECT * FROM evidence") == []
    assert list(hub.evidence.root.rglob("*.jpg")) == []


def test_status_heartbeat_and_last_will_drive_liveness(hub, node, broker):
    node.status("online")
    node.heartbeat(fps=10)
    assert wait_until(lambda: rows(hub, "SELECT liveness FROM nodes") == [{"liveness": "online"}])
    node.heartbeat(fps=0.5)                    # too slow to watch the seats
    assert wait_until(lambda: rows(hub, "SELECT liveness FROM nodes") ==
                      [{"liveness": "degraded"}])
    (n,) = rows(hub, "SELECT * FROM nodes")
    assert json.loads(n["liveness_reasons"]) == ["fps_low"] and n["liveness_since"]
    node.close(clean=False)                    # dies: the broker publishes its last will
    assert wait_until(lambda: rows(hub, "SELECT liveness FROM nodes") ==
                      [{"liveness": "offline"}])


def test_persistent_session_keeps_messages_while_the_hub_is_down(tmp_path):
    with MosquittoBroker(tmp_path / "mq", persistence=True) as broker:
        cfg = make_config(tmp_path, broker.port)
        svc = HubServices(cfg).start(ingest=True)
        assert svc.ingest.connected.wait(10)
        svc.stop()                             # the hub restarts (e.g. an upgrade)
        sim = NodeSim(broker.host, broker.port, ORIGIN)
        sent = [sim.alert_with_evidence(f"r1s{i}", jpeg=JPEG)[0] for i in range(1, 4)]
        sim.close()
        svc = HubServices(cfg).start(ingest=True)
        try:
            assert wait_until(lambda: len(rows(svc, "SELECT * FROM evidence")) == 3)
            got = {r["alert_id"] for r in rows(svc, "SELECT alert_id FROM alerts")}
            assert got == {a.alert_id for a in sent}
        finally:
            svc.stop()
