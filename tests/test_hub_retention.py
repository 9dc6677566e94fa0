"""Retention with a moved clock: evidence past its exam + 30 days goes (file and row, logged),
younger evidence and evidence a protocol holds stay."""

from __future__ import annotations

import time

from hub.retention_job import run
from hub.store import violation_protocols
from hub.store.db import connect
from tests.test_hub_access import put_alert


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
