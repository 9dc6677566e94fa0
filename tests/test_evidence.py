"""Evidence on the node: snapshot, crop and clip with hashes; a disk budget that deletes only
what is closed and delivered, oldest first."""

from __future__ import annotations

import hashlib
import itertools
import time

import cv2
import numpy as np
import pytest

from edge.evidence import EvidenceStore, FrameRing

MB = 2**20


@pytest.fixture(scope="module")
def frames(vtest_avi):
    cap = cv2.VideoCapture(str(vtest_avi))
    out = []
    for _ in range(20):
        ok, f = cap.read()
        assert ok
        out.append(f)
    cap.release()
    return out


def test_snapshot_crop_and_clip_carry_their_sha256(tmp_path, frames):
    store = EvidenceStore(tmp_path / "ev", max_bytes=100 * MB, min_free_bytes=0)
    poly = np.float32([[100, 150], [300, 150], [300, 300], [100, 300]])
    snap, crop = store.snapshot("a" * 32, frames[0], poly, (80, 130, 320, 370), 1.0e9)
    for f in (snap, crop):
        data = f.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size
    img = cv2.imread(str(snap.path))
    assert img.shape == frames[0].shape
    assert img[150, 200, 2] > 180 and img[150, 200, 0] < 90    # the seat's outline is red
    assert cv2.imread(str(crop.path)).shape[:2] == (240, 240)
    ring = FrameRing(seconds=10, fps=4)
    for i, f in enumerate(frames):
        ring.add(i * 0.25, f)
    clip = store.clip("a" * 32, ring.between(0, 10), 4, 1.0e9)
    cap = cv2.VideoCapture(str(clip.path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
    cap.release()
    assert hashlib.sha256(clip.path.read_bytes()).hexdigest() == clip.sha256


def test_the_ring_keeps_its_rate_and_length(frames):
    ring = FrameRing(seconds=2, fps=2)
    for i in range(40):
        ring.add(i * 0.1, frames[i % len(frames)])      # 10 fps in, 2 fps kept
    times = [round(t, 1) for t, _ in ring.frames]
    assert len(times) == ring.frames.maxlen == 6          # 2 s at 2 fps, plus a margin of 2
    assert times[-1] >= 3.5                               # the newest are kept
    assert all(b - a >= 0.49 for a, b in itertools.pairwise(times))
    assert ring.between(1.9, 3.1) == [j for t, j in ring.frames if 1.9 <= t <= 3.1]


def test_retention_deletes_delivered_evidence_of_closed_alerts_after_30_days(tmp_path, frames):
    undelivered = {"msg-late"}
    store = EvidenceStore(tmp_path / "ev", max_bytes=100 * MB, min_free_bytes=0,
                          delivered=lambda msg_id: msg_id not in undelivered)
    files = {}
    for name in ("done", "late", "open"):
        files[name] = store.snapshot(name.ljust(32, "0"), frames[0], None, None, 0.0)[0]
        store.set_message(files[name].evidence_id, f"msg-{name}")
    store.close_alert("done".ljust(32, "0"))
    store.close_alert("late".ljust(32, "0"))
    now = time.time()
    assert store.expire(30 * 86400, now=now + 29 * 86400) == 0       # a month is not over
    assert store.expire(30 * 86400, now=now + 31 * 86400) == 1       # 31 days later
    assert not files["done"].path.exists()
    assert files["late"].path.exists()          # the hub does not have it yet: kept
    assert files["open"].path.exists()          # its alert is still open: kept


def test_budget_deletes_oldest_closed_delivered_evidence_first(tmp_path, frames):
    undelivered = set()
    free = {"bytes": 10 * MB}
    store = EvidenceStore(tmp_path / "ev", max_bytes=10 * MB, min_free_bytes=5 * MB,
                          disk_free=lambda p: free["bytes"],
                          delivered=lambda msg_id: msg_id not in undelivered)
    files = {}
    for name in ("old", "mid", "open", "pending"):
        alert = name.ljust(32, "0")
        files[name] = store.snapshot(alert, frames[0], None, None, 0.0)[0]
        store.set_message(files[name].evidence_id, f"msg-{name}")
    store.close_alert("old".ljust(32, "0"))
    store.close_alert("mid".ljust(32, "0"))
    store.close_alert("pending".ljust(32, "0"))
    undelivered.add("msg-pending")
    assert store.enforce_budget() == []                   # within budget: nothing goes
    free["bytes"] = 5 * MB - files["old"].size // 2       # low on space: one file must go
    warnings = store.enforce_budget()
    assert not files["old"].path.exists()
    assert files["mid"].path.exists() and files["open"].path.exists()
    assert "deleted the 1 oldest" in warnings[0]
    free["bytes"] = 0                                     # the disk is full
    warnings = store.enforce_budget()
    assert not files["mid"].path.exists()
    assert files["open"].path.exists()                    # open alert: kept
    assert files["pending"].path.exists()                 # not yet delivered: kept
    assert any("nothing more may be deleted" in w for w in warnings)
