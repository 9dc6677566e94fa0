"""Evidence in a second ingest process (``[broker] evidence_process = true``), with a real
mosquitto: alerts and their evidence are stored once with verified files, bad evidence is
refused and counted, and when the evidence process is killed a new one takes over and
nothing is lost."""

from __future__ import annotations

import hashlib
import os
import signal

import pytest

from hub.services import HubServices
from kuzet import contract
from tests import test_hub_ingest
from tests.support.hub_env import make_config
from tests.support.wait import wait_until
from tests.test_hub_ingest import JPEG, ORIGIN, rows

node = test_hub_ingest.node                   # the same simulated node (a fixture)


@pytest.fixture
def hub(tmp_path, broker):
    cfg = make_config(tmp_path, broker.port)
    cfg = cfg.model_copy(update={"broker": cfg.broker.model_copy(
        update={"evidence_process": True})})
    svc = HubServices(cfg).start(ingest=True)
    assert svc.ingest.connected.wait(10)
    yield svc
    svc.stop()


def wait_for_child_session(hub, node) -> None:
    """The child subscribes shortly after the hub starts; then the hub process stops taking
    evidence itself (the hand-over), and one evidence stored proves the path works."""
    assert wait_until(hub.ingest.evidence_elsewhere.is_set, 30), "no hand-over"
    for _ in range(30):
        node.alert_with_evidence("r1s1", jpeg=JPEG)
        if wait_until(lambda: rows(hub, "SELECT evidence_id FROM evidence"), 1):
            return
    pytest.fail("the evidence process never stored anything")


def test_evidence_is_stored_once_with_verified_files(hub, node):
    wait_for_child_session(hub, node)
    sent = [node.alert_with_evidence(f"r1s{i}", jpeg=JPEG) for i in range(2, 7)]
    for _, (ev,) in sent[:2]:                     # replays change nothing
        node.publish(ev)
    assert wait_until(lambda: len(rows(hub, "SELECT * FROM evidence")) >= 6)
    assert wait_until(lambda: hub.writer.duplicates >= 2)
    for e in rows(hub, "SELECT * FROM evidence"):
        data = hub.evidence.resolve(e["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"]
    assert {a["alert_id"] for a in rows(hub, "SELECT alert_id FROM alerts")} >= \
        {a.alert_id for a, _ in sent}
    assert hub.ingest.received > 0                # alerts still come through the hub process


def test_bad_evidence_is_refused_and_counted(hub, node):
    wait_for_child_session(hub, node)
    node.publish_raw("evidence", b'{"schema": "kuzet/1", "type": "evidence"}')
    assert wait_until(lambda: hub.writer.rejected >= 1)
    assert all(e["sha256"] for e in rows(hub, "SELECT sha256 FROM evidence"))


def test_a_killed_evidence_process_is_replaced_and_nothing_is_lost(hub, node):
    wait_for_child_session(hub, node)
    first = hub.evidence_process.proc
    os.kill(first.pid, signal.SIGKILL)
    sent = [node.alert_with_evidence(f"r2s{i}", jpeg=JPEG)[1][0] for i in range(1, 6)]
    assert wait_until(lambda: hub.evidence_process.restarts == 1, 20)
    assert wait_until(lambda: {ev.evidence_id for ev in sent} <=
                      {r["evidence_id"] for r in rows(hub, "SELECT evidence_id FROM evidence")},
                      30)
    assert wait_until(lambda: hub.evidence_process.proc.pid != first.pid
                      and hub.evidence_process.proc.is_alive())


@pytest.mark.integration                    # a TLS mosquitto of its own
def test_with_certificates_the_evidence_process_has_its_own_identity(tmp_path):
    """Provisioning issues the evidence process its own certificate (CN hub-evidence, a role
    that may only read the evidence topics); a node's evidence reaches the hub through it."""
    from kuzet_tools.bench.sim import alert_for, evidence_for
    from tests.support.pki import provisioned_broker
    from tests.test_enrolment_browser import hub_config
    from tests.test_provisioning import enrol, node_client

    with provisioned_broker(tmp_path) as (prov, broker, pki):
        cfg = hub_config(tmp_path, broker, pki)
        cfg = cfg.model_copy(update={"broker": cfg.broker.model_copy(update={
            "evidence_process": True, "evidence_cert_file": pki / "hub-evidence.crt",
            "evidence_key_file": pki / "hub-evidence.key"})})
        svc = HubServices(cfg).start(ingest=True)
        try:
            assert svc.ingest.connected.wait(10), svc.ingest.last_error
            assert wait_until(svc.ingest.evidence_elsewhere.is_set, 30), "no hand-over"
            node = node_client(prov, enrol(prov, tmp_path, "main/a101/cam1"))
            assert node.connected.wait(10)
            origin = ORIGIN
            aid = contract.new_id()
            ev = evidence_for(origin, aid, JPEG)
            node.c.publish(contract.topic(origin, "alert"),
                           contract.encode(alert_for(origin, "r1s1", alert_id=aid,
                                                     evidence=[ev])), qos=1)
            node.c.publish(contract.topic(origin, "evidence"), contract.encode(ev), qos=1)
            assert wait_until(lambda: [r["evidence_id"] for r in
                                       rows(svc, "SELECT evidence_id FROM evidence")]
                              == [ev.evidence_id], 20)
            node.stop()
        finally:
            svc.stop()
