"""The proctor_present command on a scripted node (fake publisher, no broker): answered ok
during the session it names, for a seat of the map; an outside-help alert open there closes
saying why; any other case is refused with a reply that says why and quiets nothing."""

from __future__ import annotations

import pytest

from edge.rules import SeatLook
from kuzet import contract
from tests.fakes.publisher import queued
from tests.support.scripted_node import nothing_seen, scripted_config, scripted_node
from tests.test_edge_commands import fake

TWO = (0.9, 0.8)


@pytest.fixture
def node(tmp_path):
    node = scripted_node(scripted_config(tmp_path), nothing_seen())   # exam-1 runs
    node.incidents.restore_session()
    yield node
    node.stop()


def present(seat="r1s1", session_id="exam-1", quiet_s=120.0) -> contract.CommandMessage:
    return contract.CommandMessage(action="proctor_present", seat=seat, quiet_s=quiet_s,
                                   session_id=session_id)


def run(node, cmd) -> contract.CommandReply:
    node.publisher.on_command(cmd)
    node.commands.run_pending()
    return fake(node).replies()[cmd.id]


def look(node, seat: str, t: float, persons=TWO) -> None:
    """A look as the rules thread makes one (the node is not started: nothing else runs)."""
    node.incidents.handle(node.engine.observe_seat(SeatLook(seat, t, persons=persons)),
                          None, None)


def alerts(node, event: str) -> list[dict]:
    return [m for m in queued(node.outbox, "alert") if m["event"] == event]


def test_the_proctor_at_a_seat_closes_its_outside_help_alert_and_quiets_it(node):
    now = node.incidents._clock()
    for i in range(10):                               # a second person for 9 s: an alert
        look(node, "r1s1", now - 10 + i)
    [opened] = alerts(node, "open")
    assert opened["rule"] == "extra_person" and opened["seat"] == "r1s1"

    reply = run(node, present())
    assert reply.ok, reply.detail
    assert reply.detail == "seat r1s1: outside help quiet for 120 s, 1 alert(s) closed"
    [closed] = alerts(node, "close")
    assert closed["alert_id"] == opened["alert_id"]
    assert closed["detail"]["closed_by"] == "proctor_present"
    for i in range(30):                               # the proctor stays: nothing new
        look(node, "r1s1", now + i)
    assert len(alerts(node, "open")) == 1
    for i in range(10):                               # the other seat is not quiet
        look(node, "r1s2", now + i)
    assert [a["seat"] for a in alerts(node, "open")] == ["r1s1", "r1s2"]


@pytest.mark.parametrize("cmd, why", [
    (present(seat="r9s9"), "refused: seat r9s9 is not in the seat map"),
    (present(session_id="physics-2"), "refused: session exam-1 runs, not physics-2"),
])
def test_a_seat_off_the_map_or_another_session_is_refused(node, cmd, why):
    reply = run(node, cmd)
    assert not reply.ok and reply.detail.startswith(why)
    assert node.engine.quiet_ends(cmd.seat, contract.Rule.EXTRA_PERSON) is None


def test_without_a_session_presence_is_refused(tmp_path):
    node = scripted_node(scripted_config(tmp_path, exam=False), nothing_seen())
    try:
        reply = run(node, present())
        assert not reply.ok and reply.detail.startswith("refused: no session runs")
    finally:
        node.stop()

