"""The evidence binder on plain jobs and a fake clock: evidence follows the alert it names,
an orphan waits for its alert within its time, count and bytes, a foreign node's is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.evidence_binding import EvidenceBinder, OrphanLimits
from kuzet import contract
from kuzet_tools.bench.sim import alert_for, evidence_for

CAM1 = contract.Origin(building="main", room="a101", node="cam1")
OTHER = contract.Origin(building="main", room="b202", node="x")
JPEG = b"\xff\xd8jpeg\xff\xd9"


@dataclass
class Job:
    msg: Any


def binder(known: dict | None = None, hold_s: float = 60, max_count: int = 3,
           max_bytes: int = 2**20):
    return EvidenceBinder(lambda alert_id: (known or {}).get(alert_id),
                          OrphanLimits(hold_s, max_count, max_bytes))


def test_evidence_before_its_alert_in_one_batch_is_applied_after_it():
    alert = alert_for(CAM1, "r1s1")
    ev, al = Job(evidence_for(CAM1, alert.alert_id, JPEG)), Job(alert)
    b = binder()
    batch, refused = b.bind([ev, al], now=0)
    assert batch == [al, ev] and refused == [] and b.held == 0


def test_an_orphan_waits_for_its_alert_in_a_later_batch():
    alert = alert_for(CAM1, "r1s1")
    ev = Job(evidence_for(CAM1, alert.alert_id, JPEG))
    b = binder()
    assert b.bind([ev], now=0) == ([], []) and b.held == 1
    al = Job(alert)
    assert b.bind([al], now=5) == ([al, ev], []) and b.held == 0


def test_an_orphan_alone_too_long_is_dropped():
    ev = Job(evidence_for(CAM1, contract.new_id(), JPEG))
    b = binder(hold_s=60)
    b.bind([ev], now=0)
    assert b.bind([], now=59.9) == ([], [])
    batch, (refusal,) = b.bind([], now=60)
    assert batch == [] and refusal.job is ev and "within 60 s" in refusal.reason
    assert b.held == 0


def test_too_many_orphans_push_out_the_oldest():
    jobs = [Job(evidence_for(CAM1, contract.new_id(), JPEG)) for _ in range(4)]
    b = binder(max_count=3)
    _, refused = b.bind(jobs, now=0)
    assert [r.job for r in refused] == [jobs[0]] and b.held == 3


def test_orphans_weighing_more_than_the_bound_push_out_the_oldest():
    jobs = [Job(evidence_for(CAM1, contract.new_id(), bytes(1000))) for _ in range(4)]
    b = binder(max_count=10, max_bytes=2500)
    _, refused = b.bind(jobs, now=0)
    assert [r.job for r in refused] == jobs[:2] and b.held == 2 and b.held_bytes == 2000
    assert "2500 bytes" in refused[0].reason
    b.bind([], now=60)
    assert b.held == 0 and b.held_bytes == 0


def test_a_held_orphan_keeps_its_bytes_once_not_its_base64_too():
    alert = alert_for(CAM1, "r1s1")
    ev = Job(evidence_for(CAM1, alert.alert_id, JPEG))
    b = binder()
    b.bind([ev], now=0)
    assert ev.msg.data == "" and b.held_bytes == len(JPEG)
    assert b.bind([Job(alert)], now=1)[0][1] is ev and b.held_bytes == 0


def test_evidence_from_another_node_than_its_alerts_is_refused():
    alert = alert_for(CAM1, "r1s1")
    forged = Job(evidence_for(OTHER, alert.alert_id, JPEG))
    b = binder({alert.alert_id: ("main", "a101", "cam1")})
    batch, (refusal,) = b.bind([forged], now=0)
    assert batch == [] and "main/a101/cam1" in refusal.reason
    held = Job(evidence_for(OTHER, alert.alert_id, JPEG))       # an orphan, then its alert
    b = binder()
    b.bind([held], now=0)
    batch, (refusal,) = b.bind([Job(alert)], now=1)
    assert [j.msg for j in batch] == [alert] and refusal.job is held
