"""Evidence of an alert on a temp folder: the snapshot and the seat's crop with other faces
blurred, the clip once the ring has its frames, their messages in the outbox, and nothing
written when the disk is low or alerts wait in memory."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from edge.capture.base import Frame
from edge.evidence import EvidenceStore, FrameRing
from edge.evidence_flow import EvidenceFlow
from edge.lifecycle import AlertLifecycle
from edge.models.base import Face
from edge.outbox import Outbox
from edge.outbox_writer import OutboxWriter
from edge.privacy import FaceBlur
from edge.rules import RuleEvent
from edge.seats import SeatMap, grid_seat_map
from kuzet.contract import AlertEvent, Origin, Rule
from tests.fakes.detector import ScriptedFaceDetector

ORIGIN = Origin(building="main", room="a101", node="cam1")
ALERT = "alert-0001"
W, H = 320, 240
SEATS = SeatMap(grid_seat_map(2, 1, W, H), W, H)      # r1s1: the left half, r1s2: the right
STUDENT = (40.0, 60.0, 80.0, 110.0)                   # a face at r1s1
NEIGHBOUR = (220.0, 60.0, 260.0, 110.0)               # a face at r1s2


def picture(seed: int = 0) -> np.ndarray:
    """Texture everywhere, so that a blurred face shows."""
    return np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8)


def frame(t: float, seq: int = 0) -> Frame:
    return Frame(picture(seq), seq, t, 1.78e9 + t)


def opened(seat: str | None = "r1s1") -> RuleEvent:
    return RuleEvent(ALERT, AlertEvent.OPEN, Rule.DEVICE, seat, 99.0, 100.0, 0.9)


def opened_message():
    return AlertLifecycle(ORIGIN, {}, boot="boot-1").on_event(opened(), None).message


class FullOutbox:
    """An outbox on a full disk."""

    def add(self, *item) -> int:
        raise sqlite3.OperationalError("database or disk is full")


class Parts:
    def __init__(self, tmp_path, *, min_free_bytes: int = 0, faces=(STUDENT, NEIGHBOUR),
                 disk_full: bool = False):
        self.outbox = Outbox(tmp_path / "outbox.db")
        self.writer = OutboxWriter(FullOutbox() if disk_full else self.outbox, ORIGIN)
        self.store = EvidenceStore(tmp_path / "evidence", max_bytes=2**30,
                                   min_free_bytes=min_free_bytes)
        self.ring = FrameRing(10, 4)
        self.open_alerts = {ALERT}
        self.warnings: list[str] = []
        blur = FaceBlur(ScriptedFaceDetector(
            lambda call, tile: [Face(0.9, box) for box in faces]))
        self.flow = EvidenceFlow(self.store, self.ring, self.writer, clip_before_s=1,
                                 clip_after_s=1, clip_fps=4, face_blur=blur,
                                 is_open=lambda a: a in self.open_alerts,
                                 warn=self.warnings.append)

    def queued(self) -> list[dict]:
        return [json.loads(i.payload) for i in self.outbox.pending() if "evidence" in i.topic]

    def closed(self, alert_id: str = ALERT) -> list[int]:
        """The index's ``closed`` flag of each file of the alert (read as a technician would)."""
        con = sqlite3.connect(self.store.folder / "index.db")
        try:
            return [c for (c,) in con.execute("SELECT closed FROM evidence WHERE alert_id=?",
                                              (alert_id,))]
        finally:
            con.close()


@pytest.fixture
def parts(tmp_path) -> Parts:
    return Parts(tmp_path)


def test_an_alert_gets_its_snapshot_and_its_seat_crop(parts):
    shot = frame(100.0)
    refs = parts.flow.for_alert(opened(), shot, SEATS)
    assert [r.kind for r in refs] == ["snapshot", "crop"]
    queued = parts.queued()
    assert [(m["alert_id"], m["kind"], m["data"]) for m in queued] == [
        (ALERT, "snapshot", ""), (ALERT, "crop", "")]        # bytes are read when sent
    assert [m["evidence_id"] for m in queued] == [r.evidence_id for r in refs]
    assert {i.attachment for i in parts.outbox.pending()} == {
        str(p) for p in parts.store.folder.glob(f"{ALERT}/*.jpg")}


def blurred(image: np.ndarray, original: np.ndarray, box) -> bool:
    x1, y1, x2, y2 = map(int, box)
    return not np.array_equal(image[y1:y2, x1:x2], original[y1:y2, x1:x2])


@pytest.fixture
def pictures(parts, monkeypatch) -> list[np.ndarray]:
    """The pictures handed to the store for its snapshots (after the blur)."""
    seen: list[np.ndarray] = []
    real = parts.store.snapshot

    def keep(alert_id, image, *args):
        seen.append(image)
        return real(alert_id, image, *args)

    monkeypatch.setattr(parts.store, "snapshot", keep)
    return seen


def test_faces_other_than_the_flagged_seat_are_blurred(parts, pictures):
    shot = frame(100.0)
    parts.flow.for_alert(opened("r1s1"), shot, SEATS)
    assert blurred(pictures[0], shot.image, NEIGHBOUR)
    assert not blurred(pictures[0], shot.image, STUDENT)


def test_the_clip_follows_once_the_ring_has_its_frames(parts):
    for i in range(4):                        # 1 s before the alert
        parts.ring.add(99.0 + i * 0.25, picture(i))
    parts.flow.for_alert(opened(), frame(100.0), SEATS)
    parts.flow.finish_clips(100.2)
    assert parts.flow.clip_pending(ALERT)     # the second after is not in the ring yet
    for i in range(5):
        parts.ring.add(100.25 + i * 0.25, picture(10 + i))
    parts.flow.finish_clips(101.3)
    assert not parts.flow.clip_pending(ALERT)
    assert [m["kind"] for m in parts.queued()] == ["snapshot", "crop", "clip"]
    assert parts.closed() == [0, 0, 0]        # the alert is still open: its evidence too


def test_a_clip_waits_no_longer_than_its_grace_and_closes_a_closed_alert(parts):
    parts.ring.add(100.0, picture())
    parts.flow.for_alert(opened(), frame(100.0), SEATS)
    parts.open_alerts.clear()                 # the alert closed meanwhile
    parts.flow.finish_clips(106.5)            # the ring lags (a stalled camera)
    assert [m["kind"] for m in parts.queued()][-1] == "clip"
    assert parts.closed() == [1, 1, 1]


def test_the_hub_snapshot_blurs_every_face_and_is_final(parts, pictures):
    shot = frame(100.0)
    key = "command-0001"
    evidence_id = parts.flow.snapshot(key, shot)
    [msg] = parts.queued()
    assert msg["evidence_id"] == evidence_id and msg["kind"] == "snapshot"
    assert blurred(pictures[0], shot.image, STUDENT) and blurred(pictures[0], shot.image,
                                                                  NEIGHBOUR)
    assert parts.closed(key) == [1]


def test_no_evidence_while_the_disk_is_low(tmp_path):
    parts = Parts(tmp_path, min_free_bytes=2**60)  # more than any disk has free
    assert parts.flow.for_alert(opened(), frame(100.0), SEATS) == []
    assert parts.queued() == [] and not list(parts.store.folder.glob("*/*"))
    assert parts.warnings and "skipped: disk low" in parts.warnings[0]


def test_no_evidence_while_alerts_wait_in_memory(tmp_path):
    parts = Parts(tmp_path, disk_full=True)
    parts.writer.put(opened_message(), "alert")          # held: the outbox refused it
    assert parts.writer.held == 1
    assert parts.flow.for_alert(opened(), frame(100.0), SEATS) == []
    assert not list(parts.store.folder.glob("*/*"))
    assert "evidence for alert alert-0001 skipped: disk low" in parts.warnings[-1]
