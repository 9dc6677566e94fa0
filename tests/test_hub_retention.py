"""Retention with a moved clock: evidence past its exam + 30 days goes (file and row, logged,
and the node's signed record of it), younger evidence and evidence a protocol holds stay (and
every signed record the protocol's chain runs through)."""

from __future__ import annotations

import time

from edge.signing import NodeKey, Sealer
from hub import evidence_bundle
from hub.retention_job import run
from hub.signatures import RecordVerifier
from hub.store import alerts, signed_records, violation_protocols
from hub.store.alerts import apply_alert, apply_evidence
from hub.store.db import connect
from kuzet import contract
from kuzet.bundle import verify_bundle
from kuzet_tools.bench.sim import alert_for, evidence_for
from tests.test_hub_access import JPEG, put_alert


def test_what_goes_and_what_stays(hub_config, services, seeded):
    kept_aid, kept_ev = put_alert(services, "a101")
    gone_aid, gone_ev = put_alert(services, "b202")
    services.writer.call(violation_protocols.create_draft, kept_aid, None)
    assert run(hub_config, now=time.time() + 10 * 86400).deleted == 0
    report = run(hub_config, now=time.time() + 31 * 86400)
    assert (report.deleted, report.kept) == (1, 0)
    conn = connect(services.db_path, readonly=True)
    assert [r[0] for r in conn.execute("SELECT evidence_id FROM evidence")] == [kept_ev]
    assert [r[0] for r in conn.execute("SELECT evidence_id FROM retention_log")] == [gone_ev]
    conn.close()
    assert len(list(services.evidence.root.rglob("*.jpg"))) == 1


def _signed(services, sealer: Sealer, msg) -> contract.Message:
    """``msg`` sealed by the node and written with its checked record, as the ingest would."""
    sealed, _ = sealer.seal(msg)
    record = RecordVerifier(None).check(sealed, contract.encode(sealed))

    def write(conn):
        if isinstance(sealed, contract.EvidenceMessage):
            relative, _ = services.evidence.create(sealed.evidence_id, sealed.content_type,
                                                   JPEG)
            apply_evidence(conn, sealed, relative, 1.0)
        else:
            apply_alert(conn, sealed, 1.0)
        signed_records.store(conn, record, 1.0)
    services.writer.call(write)
    return sealed


def test_signed_records_go_with_their_evidence_unless_a_protocols_chain_holds_them(
        hub_config, services, seeded, tmp_path):
    o = contract.Origin(building="main", room="a101", node="cam1")
    sealer = Sealer(NodeKey.own(tmp_path / "node"), None)
    held, between, after = (contract.new_id() for _ in range(3))
    ev = {aid: evidence_for(o, aid, JPEG) for aid in (held, between, after)}
    for msg in (ev[held], alert_for(o, "r2s3", alert_id=held, evidence=[ev[held]]),
                ev[between], alert_for(o, "r1s1", alert_id=between, evidence=[ev[between]]),
                alert_for(o, "r2s3", event="close", alert_id=held),
                ev[after], alert_for(o, "r1s2", alert_id=after, evidence=[ev[after]])):
        _signed(services, sealer, msg)
    services.writer.call(violation_protocols.create_draft, held, None)

    assert run(hub_config, now=time.time() + 31 * 86400).deleted == 2
    conn = connect(services.db_path, readonly=True)
    kept = [tuple(r) for r in conn.execute(
        "SELECT seq, kind, alert_id FROM signed_records ORDER BY seq")]
    bundle = evidence_bundle.build(conn, held, alerts.alert_row(conn, held),
                                   alerts.alert_evidence(conn, held), services.evidence, None)
    conn.close()
    assert kept == [(1, "evidence", held), (2, "alert", held),
                    (3, "evidence", between),       # the protocol's chain runs through it
                    (4, "alert", between), (5, "alert", held),
                    (7, "alert", after)]            # its evidence and its record are gone
    assert verify_bundle(bundle, None).problems == []
