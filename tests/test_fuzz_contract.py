"""Property-based tests of every MQTT message type: whatever arrives, ``contract.decode``
either returns a valid message or raises ContractError with a reason. Never anything else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuzet import contract as c
from tests.test_contract import GOLDEN, TOPICS

GOLDENS = {name: json.loads((GOLDEN / f"{name}.json").read_text()) for name in TOPICS}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10),
                                                                       children, max_size=5),
    max_leaves=20)


def decode_or_reason(payload: bytes, topic: str | None = None):
    try:
        return c.decode(payload, expected_topic=topic)
    except c.ContractError as exc:
        assert str(exc)                                   # a reason, always
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash(payload):
    decode_or_reason(payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(TOPICS)), data=st.data(), value=json_values,
       how=st.sampled_from(["drop", "replace", "add"]))
def test_each_message_with_one_field_changed_or_dropped(name, data, value, how):
    msg = dict(GOLDENS[name])
    field = data.draw(st.sampled_from(sorted(msg)))
    if how == "drop":
        msg.pop(field)
    elif how == "replace":
        msg[field] = value
    else:
        msg[data.draw(st.text(min_size=1, max_size=20))] = value
    try:
        payload = json.dumps(msg).encode()
    except ValueError:
        return
    result = decode_or_reason(payload, c.topic(c.Origin(building="main", room="a101",
                                                         node="cam1"), TOPICS[name]))
    if result is not None:                                # accepted: it re-encodes cleanly
        assert c.decode(c.encode(result)) == result


@settings(max_examples=200, deadline=None)
@given(topic=st.text(max_size=80))
def test_any_topic_is_parsed_or_refused(topic):
    try:
        origin, kind = c.parse_topic(topic)
    except c.ContractError:
        return
    assert c.topic(origin, kind) == topic


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
def test_invalid_utf8_and_odd_text(text):
    decode_or_reason(text.encode("utf-16"))
    decode_or_reason(text.encode("utf-8", "surrogatepass") if text else b"\xed\xa0\x80")
