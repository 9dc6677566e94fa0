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


class Clocks:
    """A wall clock and a monotonic clock that tests move: together (time passes) or the
    wall one alone (NTP steps it)."""

    def __init__(self) -> None:
        self.wall, self.mono = time.time(), 1000.0

    def wait(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def step(self, seconds: float) -> None:
        self.wall += seconds

    def store(self, folder, boot: str = "boot-1", **kw) -> EvidenceStore:
        return EvidenceStore(folder, max_bytes=100 * MB, min_free_bytes=0, boot=boot,
                             wall_clock=lambda: self.wall, clock=lambda: self.mono, **kw)


DAY = 86400


def test_retention_deletes_delivered_evidence_of_closed_alerts_after_30_days(tmp_path, frames):
    undelivered = {"msg-late"}
    clocks = Clocks()
    store = clocks.store(tmp_path / "ev", delivered=lambda msg_id: msg_id not in undelivered)
    files = {}
    for name in ("done", "late", "open"):
        files[name] = store.snapshot(name.ljust(32, "0"), frames[0], None, None, 0.0)[0]
        store.set_message(files[name].evidence_id, f"msg-{name}")
    store.close_alert("done".ljust(32, "0"))
    store.close_alert("late".ljust(32, "0"))
    clocks.wait(29 * DAY)
    assert store.expire(30 * DAY) == 0                    # a month is not over
    clocks.wait(2 * DAY)
    assert store.expire(30 * DAY) == 1                    # 31 days later
    assert not files["done"].path.exists()
    assert files["late"].path.exists()          # the hub does not have it yet: kept
    assert files["open"].path.exists()          # its alert is still open: kept


@pytest.mark.parametrize("step", [365 * DAY, 31 * DAY, -3600.0, -365 * DAY])
def test_a_wall_clock_step_makes_no_evidence_old_or_young(tmp_path, frames, step):
    """NTP moves the wall clock of a Pi without a real-time clock: today's evidence stays,
    and evidence a month old still goes."""
    clocks = Clocks()
    store = clocks.store(tmp_path / "ev")
    old = store.snapshot("a".ljust(32, "0"), frames[0], None, None, clocks.wall)[0]
    clocks.wait(29 * DAY)
    today = store.snapshot("b".ljust(32, "0"), frames[0], None, None, clocks.wall)[0]
    for f in (old, today):
        store.set_message(f.evidence_id, f"msg-{f.alert_id}")
        store.close_alert(f.alert_id)
    clocks.step(step)
    assert store.expire(30 * DAY) == 0 and old.path.exists() and today.path.exists()
    clocks.wait(2 * DAY)                                  # the old file is 31 days old now
    assert store.expire(30 * DAY) == 1
    assert not old.path.exists() and today.path.exists()


def test_after_a_reboot_the_wall_clock_ages_earlier_files(tmp_path, frames):
    clocks = Clocks()
    store = clocks.store(tmp_path / "ev", boot="boot-1")
    f = store.snapshot("a".ljust(32, "0"), frames[0], None, None, clocks.wall)[0]
    store.set_message(f.evidence_id, "msg-a")
    store.close_alert(f.alert_id)
    clocks.mono = 5.0                                     # rebooted: monotonic starts again
    clocks.wall += 10 * DAY
    assert clocks.store(tmp_path / "ev", boot="boot-2").expire(30 * DAY) == 0
    clocks.wall += 21 * DAY
    assert clocks.store(tmp_path / "ev", boot="boot-2").expire(30 * DAY) == 1


def test_a_file_a_queued_message_still_needs_is_never_deleted(tmp_path, frames):
    """Even when its index row says delivered (or has no message id), a file an outbox row
    still has to send stays, for retention and for the disk budget alike."""
    clocks = Clocks()
    queued: set[str] = set()
    store = clocks.store(tmp_path / "ev", in_use=lambda: set(queued))
    f = store.snapshot("a".ljust(32, "0"), frames[0], None, None, clocks.wall)[0]
    store.close_alert(f.alert_id)                         # no message id recorded
    queued.add(str(f.path))
    clocks.wait(31 * DAY)
    assert store.expire(30 * DAY) == 0 and f.path.exists()
    store.max_bytes = 0
    assert "nothing more may be deleted" in store.enforce_budget()[-1] and f.path.exists()
    queued.clear()
    assert store.expire(30 * DAY) == 1 and not f.path.exists()


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
