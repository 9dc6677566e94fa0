"""A node's clock is not trusted, attacked as a node with its clock set to 2099 would: its
heartbeat, alert and evidence all say 2099; and as a Pi without a real-time clock would,
sending an alert dated 1970 before its first heartbeat. The hub keeps what the node said,
dates the alert and its evidence by when they arrived, drafts the protocol for today (the
hub's time zone), ages the evidence by that time, and shows the technician how far off the
node's clock is.
Real mosquitto, real hub, the technician's real page."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.retention_job import run
from hub.services import HubServices
from hub.store import alerts, nodes, violation_protocols
from hub.web.app import create_app
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, alert_for, evidence_for
from tests.support.hub_env import login, make_config, read, seed
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration     # a real mosquitto

A101 = contract.Origin(building="main", room="a101", node="cam1")
JPEG = b"\xff\xd8\xff\xe0" + b"a phone on the desk" * 30 + b"\xff\xd9"
SKEW = timedelta(days=(datetime(2099, 6, 1, tzinfo=UTC) - datetime.now(UTC)).days)
BACK = datetime(1970, 1, 1, 0, 5, tzinfo=UTC) - datetime.now(UTC)    # a Pi without an RTC


@pytest.fixture
def hub(tmp_path, broker):
    config = make_config(tmp_path, broker.port)
    svc = HubServices(config).start(ingest=True)
    assert svc.ingest.connected.wait(10)
    seed(svc.writer)
    yield config, svc
    svc.stop()


def _moved(msg, by: timedelta, *fields: str):
    """``msg`` as a node whose clock is off ``by`` sends it: its ``sent_at`` and ``fields``."""
    moved = {f: getattr(msg, f) + by for f in ("sent_at", *fields)}
    return msg.model_copy(update=moved)


def _alert_dated_by_the_hub(svc, sim: NodeSim, by: timedelta, year: str) -> tuple[str, str]:
    """A node whose clock is off ``by`` (in ``year``) sends a snapshot, then its alert. What
    the node said is kept; the trusted times are the hub's. Returns the alert's and the
    snapshot's ids."""
    alert_id = contract.new_id()
    ev = _moved(evidence_for(A101, alert_id, JPEG), by, "captured_at")
    sim.publish(ev)
    before = datetime.now(UTC)
    sim.publish(_moved(alert_for(A101, "r2s3", alert_id=alert_id, evidence=[ev]), by,
                       "started_at"))
    assert wait_until(lambda: read(svc, alerts.evidence_row, ev.evidence_id), 20)
    after = datetime.now(UTC)

    row = read(svc, alerts.alert_row, alert_id)
    assert row["started_at"].startswith(year)
    trusted = datetime.fromisoformat(row["trusted_started_at"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=5) <= trusted <= after + timedelta(seconds=5)
    evidence = read(svc, alerts.evidence_row, ev.evidence_id)
    assert evidence["captured_at"].startswith(year)
    assert evidence["trusted_captured_at"][:4] == str(before.year)
    return alert_id, ev.evidence_id


def _check_protocol_dated_today(config, svc, alert_id: str) -> None:
    """The protocol is dated today in the hub's time zone, and belongs to the running exam
    (the draft is deleted again)."""
    pid = svc.writer.call(violation_protocols.create_draft, alert_id, None)
    protocol = read(svc, violation_protocols.get, pid)
    today = datetime.now(ZoneInfo(config.hub.timezone)).date().isoformat()
    assert protocol["attestation_date"] == today
    assert protocol["session_id"] is not None
    svc.writer.call(lambda c: c.execute("DELETE FROM protocols WHERE id = ?", (pid,)))


def test_a_node_dated_2099_is_dated_by_the_hub(hub):
    config, svc = hub
    sim = NodeSim("127.0.0.1", config.broker.port, A101)
    try:
        sim.publish(_moved(contract.HeartbeatMessage(
            origin=A101, fps=10.0, inference_ms=20.0, worst_seat_revisit_s=1.0,
            cpu_temp_c=55.0, disk_free_mb=20000.0, outbox_depth=0, software_version="sim",
            model_versions={"detector": "sim"}, uptime_s=100.0), SKEW), qos=0)
        alert_id, evidence_id = _alert_dated_by_the_hub(svc, sim, SKEW, "2099")
        assert wait_until(lambda: read(svc, nodes.node, "main", "a101", "cam1"), 20)
    finally:
        sim.close()

    # The node's clock is flagged: off by about SKEW, beyond the bound.
    view = read(svc, nodes.node, "main", "a101", "cam1")
    assert view["clock_skew_s"] == pytest.approx(SKEW.total_seconds(), abs=60)
    assert "clock_skew" in view["reasons"] and view["liveness"] == "degraded"

    _check_protocol_dated_today(config, svc, alert_id)

    # Retention ages the evidence by the hub's time: gone 31 days on, not in 2129.
    assert run(config, now=time.time() + 10 * 86400).deleted == 0
    assert run(config, now=time.time() + 31 * 86400).deleted == 1
    assert read(svc, alerts.evidence_row, evidence_id) is None

    # The technician sees it on the devices page.
    app = create_app(config, svc)
    app.config["TESTING"] = True
    client = app.test_client()
    token = login(client, "tech")
    client.post("/language", data={"lang": "en", "csrf_token": token})
    page = client.get("/tech/").text
    days = round(SKEW.total_seconds() / 86400)
    assert "Clock off by" in page and f"+{days} d" in page


def test_a_node_dated_1970_before_its_first_heartbeat_is_dated_by_the_hub(hub):
    """No heartbeat yet, so the node's skew is not known: a time older than the retention
    window is not believed, or the evidence would be purged on the next run."""
    config, svc = hub
    sim = NodeSim("127.0.0.1", config.broker.port, A101)
    try:
        alert_id, evidence_id = _alert_dated_by_the_hub(svc, sim, BACK, "1970")
    finally:
        sim.close()

    _check_protocol_dated_today(config, svc, alert_id)

    assert run(config).deleted == 0                                # the next nightly run
    assert read(svc, alerts.evidence_row, evidence_id) is not None
    assert run(config, now=time.time() + 31 * 86400).deleted == 1
