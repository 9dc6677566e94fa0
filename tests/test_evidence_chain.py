"""Evidence that proves itself, on the node's side and in the offline check's format: each
alert and evidence message the node puts into its outbox is signed and names the hash of the
one before it; the chain survives a restart; the golden signed messages pin what is signed.
(The hub's side and the bundle, attacked on a real broker: tests/test_evidence_chain_hub.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

from edge.outbox import Outbox
from edge.outbox_writer import OutboxWriter
from edge.signing import NodeKey, Sealer
from kuzet import contract as c
from kuzet import signatures
from kuzet_tools.bench.sim import alert_for

GOLDEN = Path(__file__).parent / "data" / "contract"
ORIGIN = c.Origin(building="main", room="a101", node="cam1")


def _node_writer(data: Path) -> tuple[Outbox, OutboxWriter]:
    outbox = Outbox(data / "outbox.db", boot="boot-1")
    key = NodeKey.own(data)
    return outbox, OutboxWriter(outbox, ORIGIN, sealer=Sealer(key, outbox.chain_head()))


def _records(outbox: Outbox) -> list[tuple[dict, bytes]]:
    out = []
    for item in outbox.pending(limit=1000):
        body = signatures.body_of_payload(item.payload)
        out.append((json.loads(item.payload), body))
    return out


def test_each_outbox_record_is_signed_and_names_the_hash_of_the_one_before(tmp_path):
    outbox, writer = _node_writer(tmp_path)
    for seat in ("r1s1", "r1s2", "r2s1"):
        writer.put(alert_for(ORIGIN, seat), "alert")
    records = _records(outbox)
    assert [m["chain"]["seq"] for m, _ in records] == [1, 2, 3]
    assert records[0][0]["chain"]["prev"] is None
    for (_, before), (after, _) in zip(records, records[1:], strict=False):
        assert after["chain"]["prev"] == signatures.record_hash(before)
    for m, body in records:
        sig = c.Signature.model_validate(m["sig"])
        signatures.verify(body, sig)                       # raises if it does not verify


def test_the_chain_goes_on_across_a_restart_of_the_node(tmp_path):
    outbox, writer = _node_writer(tmp_path)
    writer.put(alert_for(ORIGIN, "r1s1"), "alert")
    last_body = _records(outbox)[-1][1]
    outbox.close()
    outbox, writer = _node_writer(tmp_path)                # same data folder: same key, chain
    writer.put(alert_for(ORIGIN, "r1s2"), "alert")
    first, second = (m for m, _ in _records(outbox))
    assert second["chain"] == {"id": first["chain"]["id"], "seq": 2,
                               "prev": signatures.record_hash(last_body)}
    assert second["sig"]["key"] == first["sig"]["key"]


def test_a_node_without_a_certificate_signs_with_its_own_key_kept_private(tmp_path):
    key = NodeKey.for_node(tmp_path, None, None, warn=lambda text: None)
    assert not key.by_ca
    assert (tmp_path / "signing.key").stat().st_mode & 0o077 == 0
    assert NodeKey.own(tmp_path).alg == key.alg == "ES256"


def test_status_and_heartbeats_are_not_chained(tmp_path):
    outbox, writer = _node_writer(tmp_path)
    writer.put(c.StatusMessage(origin=ORIGIN, state="online", since=c.utcnow()), "status")
    assert "sig" not in json.loads(outbox.pending()[0].payload)
    assert outbox.chain_head() is None


def test_the_golden_signed_messages_verify_and_pin_what_is_signed():
    alert = c.decode((GOLDEN / "alert_signed.json").read_bytes(),
                     expected_topic=c.topic(ORIGIN, "alert"))
    evidence = c.decode((GOLDEN / "evidence_signed.json").read_bytes(),
                        expected_topic=c.topic(ORIGIN, "evidence"))
    ev_body = signatures.body_of_payload((GOLDEN / "evidence_signed.json").read_bytes())
    al_body = signatures.body_of_payload((GOLDEN / "alert_signed.json").read_bytes())
    signatures.verify(ev_body, evidence.sig)
    signatures.verify(al_body, alert.sig)
    assert b'"data"' not in ev_body and b'"sig"' not in al_body
    assert alert.chain.prev == signatures.record_hash(ev_body)
    assert evidence.decoded().startswith(b"\xff\xd8")      # the file is vouched by its sha256
    for name in ("alert_signed", "evidence_signed"):
        raw = (GOLDEN / name).with_suffix(".json").read_bytes()
        assert json.loads(c.encode(c.decode(raw))) == json.loads(raw)


def test_a_message_from_a_node_that_does_not_sign_is_still_valid():
    old = json.loads((GOLDEN / "alert_open.json").read_text())
    del old["chain"], old["sig"]                           # as an older node sends it
    msg = c.decode(json.dumps(old).encode(), expected_topic=c.topic(ORIGIN, "alert"))
    assert msg.sig is None and msg.chain is None
