"""The one writer on a real SQLite file: a batch is one transaction, and a job that fails in
it is rejected alone while the rest of the batch is stored. And the evidence folder it
writes to."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from hub.bus import EventBus
from hub.config import LivenessSection
from hub.evidence import EvidenceFolder, spread_subfolders
from hub.store.db import connect
from hub.store.migrations import open_database
from hub.writer import Writer
from kuzet import contract
from kuzet_tools.bench.hub import filesystem_of
from kuzet_tools.bench.sim import alert_for, evidence_for
from tests.support.wait import wait_until

CAM1 = contract.Origin(building="main", room="a101", node="cam1")
CAM2 = contract.Origin(building="main", room="a101", node="cam2")
JPEG = b"\xff\xd8\xff\xe0" + b"kuzet writer test" * 10 + b"\xff\xd9"


def make_writer(tmp_path) -> Writer:
    open_database(tmp_path / "hub.db").close()
    return Writer(tmp_path / "hub.db", EvidenceFolder(tmp_path / "evidence"), EventBus(),
                  LivenessSection())


def test_a_failing_job_is_rejected_and_the_rest_of_its_batch_is_stored(tmp_path):
    writer = make_writer(tmp_path)
    acked: list[str] = []
    first = alert_for(CAM1, "r1s1")
    clash = alert_for(CAM2, "r1s2", alert_id=first.alert_id)   # another node, same alert id
    second = alert_for(CAM1, "r1s3")
    ev = evidence_for(CAM1, second.alert_id, JPEG)
    jobs = [(first, None), (clash, None), (second, None), (ev, JPEG)]
    for msg, raw in jobs:                      # queued before the writer runs: one batch
        origin = msg.origin
        writer.submit_message(contract.topic(origin, msg.type), msg, raw,
                              ack=lambda m=msg: acked.append(m.id))
    writer.start()
    try:
        assert wait_until(lambda: len(acked) == 4)
    finally:
        writer.stop()
    assert sorted(acked) == sorted(m.id for m, _ in jobs)     # each acknowledged once
    assert (writer.stored, writer.rejected) == (3, 1)
    conn = connect(tmp_path / "hub.db", readonly=True)
    alerts = {r["alert_id"]: r["node"] for r in conn.execute("SELECT * FROM alerts")}
    (reason,) = [r["reason"] for r in conn.execute("SELECT reason FROM rejected")]
    (stored_ev,) = conn.execute("SELECT * FROM evidence").fetchall()
    conn.close()
    assert alerts == {first.alert_id: "cam1", second.alert_id: "cam1"}
    assert reason.startswith("cannot store:") and "another node" in reason
    assert stored_ev["evidence_id"] == ev.evidence_id
    assert writer.evidence.resolve(stored_ev["file"]).read_bytes() == JPEG


def test_a_batch_publishes_each_changed_alert_once_and_only_to_watched_rooms(tmp_path):
    writer = make_writer(tmp_path)
    page = writer.bus.subscribe({("main", "a101")})
    opened = alert_for(CAM1, "r1s1")
    closed = alert_for(CAM1, "r1s1", event="close", alert_id=opened.alert_id, duration_s=9)
    elsewhere = alert_for(contract.Origin(building="main", room="b202", node="cam1"), "r1s1")
    acked: list[str] = []
    for msg in (opened, closed, elsewhere):   # queued before the writer runs: one batch
        writer.submit_message(contract.topic(msg.origin, msg.type), msg,
                              ack=lambda m=msg: acked.append(m.id))
    writer.start()
    try:
        assert wait_until(lambda: len(acked) == 3)
        events = page.get(timeout=1)
    finally:
        writer.stop()
    assert [(e.kind, e.room, e.data["alert_id"]) for e in events] == \
        [("alert", "a101", opened.alert_id)]
    assert events[0].data["status"] == "closed"             # its view read after the close


def test_the_evidence_folder_asks_ext4_to_spread_its_subfolders(tmp_path):
    """chattr +T on the evidence folder (hub.evidence.spread_subfolders), as lsattr shows."""
    fs = filesystem_of(tmp_path)
    if fs["type"] not in ("ext2", "ext3", "ext4"):
        pytest.skip(f"{fs['type']} has no Orlov allocator hint")
    folder = EvidenceFolder(tmp_path / "evidence")
    attrs = subprocess.run(["lsattr", "-d", str(folder.root)], capture_output=True, text=True,
                           check=True).stdout.split()[0]
    assert "T" in attrs
    folder.create("abcdef0123456789", "image/jpeg", JPEG)        # and files still work
    assert (folder.root / "ab" / "abcdef0123456789.jpg").read_bytes() == JPEG


def test_a_filesystem_without_the_hint_is_no_error(tmp_path):
    shm = Path("/dev/shm")
    if filesystem_of(shm)["type"] != "tmpfs":
        pytest.skip("no tmpfs at /dev/shm")
    target = Path(tempfile.mkdtemp(dir=shm))
    try:
        assert spread_subfolders(target) is False
        EvidenceFolder(target / "evidence").create("abcdef0123456789", "image/jpeg", JPEG)
    finally:
        shutil.rmtree(target)
