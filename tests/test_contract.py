"""The wire format, pinned by golden JSON files, and what the contract refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kuzet import contract as c

GOLDEN = Path(__file__).parent / "data" / "contract"
ORIGIN = c.Origin(building="main", room="a101", node="cam1")
TOPICS = {"alert_open": "alert", "evidence": "evidence", "status": "status",
          "heartbeat": "heartbeat", "heartbeat_shedding": "heartbeat",
          "command_start": "cmd", "command_stop": "cmd",
          "command_present": "cmd", "command_check_in": "cmd", "evidence_check_in": "evidence",
          "reply": "reply"}


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_golden_messages_round_trip_unchanged(name):
    raw = (GOLDEN / f"{name}.json").read_bytes()
    msg = c.decode(raw, expected_topic=c.topic(ORIGIN, TOPICS[name]))
    assert json.loads(c.encode(msg)) == json.loads(raw)


def test_evidence_bytes_are_checked_against_their_hash():
    msg = c.decode((GOLDEN / "evidence.json").read_bytes())
    assert msg.decoded().startswith(b"\xff\xd8")
    forged = msg.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(ValueError, match="sha256"):
        forged.decoded()


def _golden(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text())


@pytest.mark.parametrize("mutate, where", [
    (lambda m: m.update(schema="kuzet/2"), "schema"),
    (lambda m: m.pop("alert_id"), "alert_id"),
    (lambda m: m.update(rule="smoking"), "rule"),
    (lambda m: m.update(score=1.5), "score"),
    (lambda m: m.update(id="../../etc"), "id"),
    (lambda m: m.update(colour="red"), "colour"),
    (lambda m: m.update(started_at="2026-11-26T09:14:03"), "started_at"),
    (lambda m: m["origin"].update(node="cam/1"), "origin.node"),
])
def test_invalid_alerts_are_refused_with_the_place(mutate, where):
    msg = _golden("alert_open")
    mutate(msg)
    with pytest.raises(c.ContractError, match=where.split(".")[0]):
        c.decode(json.dumps(msg).encode())


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"{not json", "invalid"),
    (b"[]", "invalid"),
    (b"x" * (c.MAX_PAYLOAD_BYTES + 1), "exceeds"),
])
def test_garbage_is_refused(payload, reason):
    with pytest.raises(c.ContractError, match=reason):
        c.decode(payload)


def test_a_node_cannot_speak_for_another_or_on_the_wrong_topic():
    raw = (GOLDEN / "alert_open.json").read_bytes()
    other = c.Origin(building="main", room="a102", node="cam9")
    with pytest.raises(c.ContractError, match="does not match"):
        c.decode(raw, expected_topic=c.topic(other, "alert"))
    with pytest.raises(c.ContractError, match="on a status topic"):
        c.decode(raw, expected_topic=c.topic(ORIGIN, "status"))
    with pytest.raises(c.ContractError, match="is not kuzet/v1"):
        c.decode(raw, expected_topic="kuzet/v1/main/a101/cam1/alert/extra")


def test_start_session_needs_its_session():
    with pytest.raises(c.ContractError, match="session"):
        c.decode(json.dumps({"schema": "kuzet/1", "id": c.new_id(), "type": "command",
                             "sent_at": "2026-11-26T09:00:00Z",
                             "action": "start_session"}).encode())


def _command(**fields) -> bytes:
    return json.dumps({"schema": "kuzet/1", "id": c.new_id(), "type": "command",
                       "sent_at": "2026-11-26T09:00:00Z", **fields}).encode()


@pytest.mark.parametrize("fields, where", [
    ({"seat": "r1s1"}, "needs a 'seat' and 'quiet_s'"),
    ({"quiet_s": 60}, "needs a 'seat' and 'quiet_s'"),
    ({"seat": "r1s1", "quiet_s": 9}, "at command.quiet_s"),
    ({"seat": "r1s1", "quiet_s": 601}, "at command.quiet_s"),
    ({"seat": "../x", "quiet_s": 60}, "at command.seat"),
])
def test_proctor_present_needs_a_seat_and_a_quiet_of_10_to_600_s(fields, where):
    with pytest.raises(c.ContractError, match=where):
        c.decode(_command(action="proctor_present", **fields))


def test_commands_other_than_presence_keep_their_wire_form_without_its_fields():
    """A node on the contract before ``proctor_present`` refuses unknown keys, even null."""
    for name in ("command_start", "command_stop"):
        assert "seat" not in _golden(name) and "quiet_s" not in _golden(name)
    snap = json.loads(c.encode(c.CommandMessage(action="snapshot")))
    assert "seat" not in snap and "quiet_s" not in snap


def test_check_in_needs_a_seat_and_its_crop_alone_says_what_the_node_saw_seated():
    with pytest.raises(c.ContractError, match="check_in needs a 'seat'"):
        c.decode(_command(action="check_in", session_id="math-a101"))
    with pytest.raises(c.ContractError, match="check_in needs a 'seat'"):
        c.decode(_command(action="check_in", seat="r1s1", quiet_s=60))
    crop = c.decode((GOLDEN / "evidence_check_in.json").read_bytes())
    assert crop.kind == "check-in" and crop.seated == c.Seated(seat=True, taken=17, looked=20)
    snap = _golden("evidence")
    assert "seated" not in snap                      # older evidence keeps its wire form
    with pytest.raises(c.ContractError, match="only with a check-in crop"):
        c.decode(json.dumps({**snap, "seated": {"seat": True, "taken": 1, "looked": 1}}).encode())
    with pytest.raises(c.ContractError, match="seated.taken"):
        c.decode(json.dumps({**_golden("evidence_check_in"),
                             "seated": {"taken": -1}}).encode())


def test_a_heartbeat_within_its_budget_keeps_the_older_wire_form():
    """over_budget / shed_level / shed are sent only when not the default: a node that keeps
    its revisit bound sends exactly the keys an older hub accepts."""
    old = _golden("heartbeat")
    msg = c.decode(json.dumps(old).encode())
    assert not msg.over_budget and msg.shed_level == 0 and msg.shed == []
    assert set(json.loads(c.encode(msg))) == set(old)
    shedding = c.decode((GOLDEN / "heartbeat_shedding.json").read_bytes())
    assert shedding.over_budget and shedding.shed == ["second_looks", "faces_unchanged"]


@pytest.mark.parametrize("level, shed, where", [
    (1, [], "shed"),                                   # a level without its steps
    (1, ["faces_unchanged"], "shed"),                  # steps out of order
    (3, ["second_looks", "faces_unchanged"], "shed_level"),
    (0, ["cpu"], "shed"),
])
def test_a_heartbeat_whose_shed_steps_do_not_match_its_level_is_refused(level, shed, where):
    msg = _golden("heartbeat") | {"shed_level": level, "shed": shed}
    with pytest.raises(c.ContractError, match=where):
        c.decode(json.dumps(msg).encode())
