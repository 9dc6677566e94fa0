"""A node too slow for its seats: the hub flags it ``revisit_slow`` and the technician's devices
page says so in words, with what the node switched off to keep up (Flask client, real SQLite,
the heartbeats and status the node sends)."""

from __future__ import annotations

import re
import time

import pytest

from hub.config import LivenessSection
from hub.liveness import REVISIT_SLOW, NodeFacts, assess
from hub.store import nodes
from kuzet import contract
from tests.support.hub_env import login

ORIGIN = contract.Origin(building="main", room="a101", node="cam1")
NOW = 1_000_000.0


def beat(revisit: float, *, over: bool = False, level: int = 0) -> contract.HeartbeatMessage:
    return contract.HeartbeatMessage(
        origin=ORIGIN, fps=10.0, inference_ms=80.0, worst_seat_revisit_s=revisit,
        cpu_temp_c=61.0, disk_free_mb=20000.0, outbox_depth=0, software_version="test",
        model_versions={}, uptime_s=60.0, over_budget=over, shed_level=level,
        shed=list(contract.SHED_STEPS[:level]))


@pytest.mark.parametrize("facts, reasons", [
    (NodeFacts("online", NOW - 5, 10, 20000, worst_seat_revisit_s=1.2), ()),
    (NodeFacts("online", NOW - 5, 10, 20000, worst_seat_revisit_s=3.4), (REVISIT_SLOW,)),
    (NodeFacts("online", NOW - 5, 10, 20000, over_budget=True, worst_seat_revisit_s=1.9),
     (REVISIT_SLOW,)),                        # the node's own word counts as well
    (NodeFacts("online", NOW - 5, 10, 20000), ()),                  # no sweep measured yet
])
def test_a_node_whose_seats_wait_too_long_is_degraded_revisit_slow(facts, reasons):
    verdict = assess(facts, NOW, LivenessSection())
    assert verdict.reasons == reasons
    assert verdict.state == ("degraded" if reasons else "online")


def test_the_bound_is_the_hubs_setting():
    facts = NodeFacts("online", NOW - 5, 10, 20000, worst_seat_revisit_s=3.4)
    assert assess(facts, NOW, LivenessSection(max_seat_revisit_s=5.0)).reasons == ()


def _row(client, lang: str) -> str:
    token = login(client, "tech")
    client.post("/language", data={"lang": lang, "csrf_token": token})
    return re.search(r'data-node="main/a101/cam1">(.*?)</tr>', client.get("/tech/").text,
                     re.S).group(1)


def test_the_technician_sees_the_slow_node_and_what_it_switched_off(client, services):
    status = contract.StatusMessage(
        origin=ORIGIN, state="degraded", since=contract.utcnow(),
        reasons=["revisit slow: seats wait longer than the 2 s bound between looks",
                 "shedding to keep the revisit bound: second looks (second phone detector, "
                 "hands), faces on unchanged seats"])
    services.writer.call(nodes.apply_status, status, time.time(), LivenessSection())
    services.writer.call(nodes.apply_heartbeat, beat(3.4, over=True, level=2), time.time(),
                         LivenessSection())
    row = _row(client, "en")
    assert "Seats are looked at too seldom: the node is too slow for its seats" in row
    assert "Switched off to keep up: second looks for phones, faces on unchanged seats" in row
    assert "revisit slow: seats wait longer than the 2 s bound" in row     # the node's words
    assert 'class="node degraded"' in client.get("/tech/").text
    row = _row(client, "kk")
    assert "Орындарға тым сирек қаралады" in row and "Үлгеру үшін өшірілген:" in row
    assert "телефондарды қайта тексеру" in row
    row = _row(client, "ru")
    assert "Места проверяются слишком редко" in row and "лица на неизменившихся местах" in row

    # it caught up: the older heartbeat form, nothing switched off, no reason
    services.writer.call(nodes.apply_status, status.model_copy(update={
        "state": "online", "reasons": []}), time.time(), LivenessSection())
    services.writer.call(nodes.apply_heartbeat, beat(1.1), time.time(), LivenessSection())
    row = _row(client, "en")
    assert "too seldom" not in row and "Switched off" not in row
    assert 'data-f="liveness">Online<' in row
