"""Evidence is bound to its alert's origin, attacked as an enrolled node would: a node in
b202 publishes, on its own topic, evidence naming an a101 alert; evidence for an alert that
never comes is held a moment and then dropped; a flood of such evidence is held only up to a
byte bound, the oldest dropped first. Real mosquitto, real hub, both ingest layouts
(evidence in the hub's process, and in its second process)."""

from __future__ import annotations

import logging
import os

import pytest

from hub.services import HubServices
from hub.store import alerts, messages
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, alert_for, evidence_for
from tests.support.hub_env import make_config, read
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration     # a real mosquitto in every test

A101 = contract.Origin(building="main", room="a101", node="cam1")
B202 = contract.Origin(building="main", room="b202", node="x")
JPEG = b"\xff\xd8\xff\xe0" + b"the real seat" * 30 + b"\xff\xd9"
FORGED = b"\xff\xd8\xff\xe0" + b"a picture of someone else" * 30 + b"\xff\xd9"


BOUND = 2**20                            # the flood test's orphan_max_bytes
SIZE = 200_000                           # each flooding file's bytes


def _start(tmp_path, broker, evidence_process: bool, **orphans) -> HubServices:
    config = make_config(tmp_path, broker.port)
    config = config.model_copy(update={"broker": config.broker.model_copy(update={
        "evidence_process": evidence_process, **orphans})})
    svc = HubServices(config).start(ingest=True)
    assert svc.ingest.connected.wait(10)
    if evidence_process:
        assert wait_until(svc.ingest.evidence_elsewhere.is_set, 30), "no hand-over"
    return svc


@pytest.fixture(params=[False, True], ids=["one-process", "evidence-process"])
def hub(request, tmp_path, broker):
    svc = _start(tmp_path, broker, request.param, orphan_hold_s=1.0)
    yield svc
    svc.stop()


@pytest.fixture(params=[False, True], ids=["one-process", "evidence-process"])
def tight_hub(request, tmp_path, broker):
    """Orphans held 5 s, up to 1 MiB (every evidence cap below that, as config checks)."""
    svc = _start(tmp_path, broker, request.param, orphan_hold_s=5.0, orphan_max_bytes=BOUND,
                 max_snapshot_bytes=BOUND // 2, max_crop_bytes=BOUND // 2,
                 max_clip_bytes=BOUND // 2)
    yield svc
    svc.stop()


@pytest.fixture
def nodes(broker):
    a101, b202 = (NodeSim(broker.host, broker.port, o) for o in (A101, B202))
    yield a101, b202
    a101.close()
    b202.close()


def _files(svc) -> set[str]:
    return {p.name for p in svc.evidence.root.rglob("*") if p.is_file()}


def test_evidence_from_another_room_for_an_alert_is_refused(hub, nodes, caplog):
    a101, b202 = nodes
    caplog.set_level(logging.WARNING, logger="hub")
    alert, (real,) = a101.alert_with_evidence("r2s3", jpeg=JPEG)
    assert wait_until(lambda: read(hub, alerts.alert_evidence, alert.alert_id), 20)
    forged = evidence_for(B202, alert.alert_id, FORGED)
    b202.publish(forged)                  # its own topic: the broker's ACLs let it through
    assert wait_until(lambda: read(hub, messages.counters).get("rejected") == 1, 20)
    listed = [r["evidence_id"] for r in read(hub, alerts.alert_evidence, alert.alert_id)]
    assert listed == [real.evidence_id]
    assert read(hub, alerts.evidence_row, forged.evidence_id) is None
    assert _files(hub) == {f"{real.evidence_id}.jpg"}
    (reason,) = [r["reason"] for r in read(hub, messages.rejected)]
    assert "main/a101/cam1" in reason and "main/b202/x" in reason
    assert any("main/b202/x/evidence" in r.getMessage() for r in caplog.records)


def test_evidence_before_its_alert_is_held_and_then_stored(hub, nodes):
    """A node sends an alert's snapshot before the alert that names it (edge.incidents)."""
    a101, _ = nodes
    alert_id = contract.new_id()
    ev = evidence_for(A101, alert_id, JPEG)
    a101.publish(ev)
    a101.publish(alert_for(A101, "r1s1", alert_id=alert_id, evidence=[ev]))
    assert wait_until(lambda: read(hub, alerts.evidence_row, ev.evidence_id), 20)
    assert read(hub, messages.counters).get("rejected") is None


def test_evidence_whose_alert_never_comes_is_dropped_after_a_while(hub, nodes, caplog):
    a101, b202 = nodes
    caplog.set_level(logging.WARNING, logger="hub")
    orphan = evidence_for(B202, contract.new_id(), FORGED)
    b202.publish(orphan)
    assert wait_until(lambda: read(hub, messages.counters).get("rejected") == 1, 20)
    assert read(hub, alerts.evidence_row, orphan.evidence_id) is None
    assert _files(hub) == set()
    (reason,) = [r["reason"] for r in read(hub, messages.rejected)]
    assert "no alert" in reason and orphan.alert_id in reason
    assert any(orphan.alert_id in r.getMessage() for r in caplog.records)


def test_a_flood_of_orphans_is_held_only_up_to_the_byte_bound(tight_hub, nodes):
    """b202 sends 16 files of 200 kB for alerts that never come: the hub holds at most 1 MiB
    of them (in memory, or on disk with the evidence process), drops the oldest beyond that,
    leaves none of them on disk, and still stores a101's real alert and its evidence."""
    a101, b202 = nodes
    binder = tight_hub.writer.binder
    flood = [evidence_for(B202, contract.new_id(),
                          b"\xff\xd8\xff\xe0" + os.urandom(SIZE - 6) + b"\xff\xd9")
             for _ in range(16)]
    for ev in flood:
        b202.publish(ev, wait=False)
    held_most = 0

    def all_refused() -> bool:
        nonlocal held_most
        held_most = max(held_most, binder.held * SIZE)
        return read(tight_hub, messages.counters).get("rejected") == len(flood)

    assert wait_until(all_refused, 30, step=0.01)
    assert held_most <= BOUND
    reasons = [r["reason"] for r in read(tight_hub, messages.rejected)]
    pushed_out = [r for r in reasons if f"{BOUND} bytes" in r]
    assert len(pushed_out) >= len(flood) - BOUND // SIZE     # not left for the hold to drop
    assert binder.held == 0 and binder.held_bytes == 0
    assert _files(tight_hub) == set()
    assert all(read(tight_hub, alerts.evidence_row, ev.evidence_id) is None for ev in flood)

    alert_id = contract.new_id()             # the real one: its snapshot before the alert
    real = evidence_for(A101, alert_id, JPEG)
    a101.publish(real)
    a101.publish(alert_for(A101, "r1s1", alert_id=alert_id, evidence=[real]))
    assert wait_until(lambda: read(tight_hub, alerts.evidence_row, real.evidence_id), 20)
    assert _files(tight_hub) == {f"{real.evidence_id}.jpg"}
