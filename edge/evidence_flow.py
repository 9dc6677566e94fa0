"""Evidence for alerts and for the hub's snapshot command: pictures, clips, their messages.

When an alert opens, the frame it opened on is saved (the whole room with the seat marked,
and the seat's crop), and a clip is started: the ring's frames from ``clip_before_s`` before to
``clip_after_s`` after, written once the ring has them. Faces other than the flagged seat's
student are blurred (in the clip with the same boxes). Each file's message goes into the
outbox without its bytes (the publisher reads the file when it sends it).

Evidence is only written while the disk keeps its reserve after it, and while no message is
held in memory for a full disk: alerts come first. Every failure is warned about and the node
goes on.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

import numpy as np

from edge.capture.base import Frame
from edge.clocks import Clock, utc
from edge.evidence import EvidenceFile, EvidenceStore, FrameRing
from edge.outbox_writer import OutboxWriter
from edge.privacy import Box, FaceBlur, blur_boxes
from edge.rules import RuleEvent
from edge.seat_cut import cut_seat
from edge.seats import Seat, SeatMap, inside_polygon
from edge.system import disk_free_mb
from kuzet import contract

log = logging.getLogger(__name__)
CLIP_GRACE_S = 5.0        # a clip is written this long after its end even if the ring lags
FROM_MAIN_BELOW_PX = 1 << 30   # a check-in crop always comes from the larger picture if any


class EvidenceFlow:
    def __init__(self, store: EvidenceStore, ring: FrameRing, writer: OutboxWriter, *,
                 clip_before_s: float, clip_after_s: float, clip_fps: float,
                 face_blur: FaceBlur | None = None,
                 is_open: Callable[[str], bool] = lambda alert_id: False,
                 warn: Callable[[str], None] = log.warning,
                 wall_clock: Clock = time.time) -> None:
        """``is_open(alert_id)``: is that alert still open (its evidence not yet final)?"""
        self.store = store
        self.ring = ring
        self.writer = writer
        self.clip_before_s = clip_before_s
        self.clip_after_s = clip_after_s
        self.clip_fps = clip_fps
        self.face_blur = face_blur
        self._is_open = is_open
        self._warn = warn
        self._wall = wall_clock
        self._pending: list[tuple[str, float, float]] = []   # (alert, t_mono, t_wall)
        self._masks: dict[str, list[Box]] = {}   # alert -> face boxes blurred in its snapshot

    # -- alerts -------------------------------------------------------------------------------
    def for_alert(self, ev: RuleEvent, frame: Frame, seats: SeatMap | None
                  ) -> list[contract.EvidenceRef]:
        """The snapshot (and crop) of a new alert, sent; its clip follows later."""
        refs = self._snapshot(ev, frame, seats)
        self._pending.append((ev.alert_id, frame.t_mono, frame.t_wall))
        return refs

    def clip_pending(self, alert_id: str) -> bool:
        return any(a == alert_id for a, _, _ in self._pending)

    def finish_clips(self, now: float, *, flush: bool = False) -> None:
        """Write the clips whose frames the ring now holds (or that waited long enough;
        every one with ``flush``, at stop). ``now`` is monotonic."""
        after, before = self.clip_after_s, self.clip_before_s
        done = [c for c in self._pending
                if self.ring.newest >= c[1] + after or now >= c[1] + after + CLIP_GRACE_S
                or flush]
        for alert_id, t_mono, t_wall in done:
            self._pending.remove((alert_id, t_mono, t_wall))
            frames = self.ring.between(t_mono - before, t_mono + after)
            boxes = self._masks.pop(alert_id, [])
            if not self.room(f"clip for alert {alert_id}", 2 * sum(map(len, frames))):
                continue
            try:
                f = self.store.clip(alert_id, frames, self.clip_fps, t_wall,
                                    mask=blur_boxes(boxes) if boxes else None)
                if f is not None:
                    self.send(f)
            except (OSError, sqlite3.Error, ValueError) as exc:
                self._warn(f"clip not saved for alert {alert_id}: {exc}")
            if not self._is_open(alert_id):
                self.close_alert(alert_id)

    def close_alert(self, alert_id: str) -> None:
        """The alert's evidence is final: retention may take it once delivered."""
        try:
            self.store.close_alert(alert_id)
        except sqlite3.Error as exc:
            self._warn(f"evidence index not updated: {exc}")

    # -- the hub's snapshot command -----------------------------------------------------------
    def snapshot(self, key: str, frame: Frame) -> str:
        """The whole frame (every face blurred), sent at once; returns its evidence id."""
        image = self._blur_others(key, frame.evidence, None)
        self._masks.pop(key, None)
        files = self.store.snapshot(key, image, None, None, frame.t_wall)
        ref = self.send(files[0])
        self.store.close_alert(key)
        return ref.evidence_id

    # -- the proctor's check-in ---------------------------------------------------------------
    def check_in(self, key: str, frame: Frame, seat: Seat, seated: contract.Seated) -> str:
        """The seat's crop for the proctor's check-in (its student's face beside the roster
        photo): cut from the largest picture of the moment (``edge.seat_cut``), faces whose
        centre is not in the seat blurred, sent at once (kind ``check-in``) with what the node
        saw seated; returns its evidence id."""
        cut = cut_seat(seat.crop, frame.image, frame.main, below_px=FROM_MAIN_BELOW_PX)
        pixels = np.ascontiguousarray(cut.pixels)
        if not self.room(f"check-in crop for seat {seat.id}", pixels.size):
            raise RuntimeError("disk low: no check-in crop saved")
        if self.face_blur is not None:
            (dx, dy), (sx, sy) = cut.offset, cut.scale
            polygon = (seat.polygon - np.float32([dx, dy])) * np.float32([sx, sy])
            pixels, _ = self.face_blur.blur(
                pixels, keep=lambda x, y: inside_polygon(polygon, x, y))
        f = self.store.still(key, "check-in", pixels, frame.t_wall)
        self._put(f, seated)
        self.store.close_alert(key)
        return f.evidence_id

    # -- shared -------------------------------------------------------------------------------
    def room(self, what: str, need: int) -> bool:
        """Evidence only while the disk keeps its reserve after it: alerts come first."""
        if self.store.space_ok(need) and not self.writer.held:
            return True
        self._warn(f"{what} skipped: disk low ({disk_free_mb(self.store.folder):.0f} MB free)")
        return False

    def send(self, f: EvidenceFile) -> contract.EvidenceRef:
        """An alert's evidence file sent; the reference its alert names."""
        self._put(f)
        return contract.EvidenceRef(evidence_id=f.evidence_id, kind=f.kind, sha256=f.sha256,
                                    size=f.size)

    def _put(self, f: EvidenceFile, seated: contract.Seated | None = None) -> None:
        """The evidence message goes into the outbox without its bytes: the publisher reads
        the file when it sends it (the file is not stored twice)."""
        msg = contract.EvidenceMessage(
            origin=self.writer.origin, alert_id=f.alert_id, evidence_id=f.evidence_id,
            kind=f.kind, content_type=f.content_type, sha256=f.sha256, size=f.size,
            captured_at=utc(f.captured_wall), sent_at=utc(self._wall()), data="",
            seated=seated)
        self.writer.put(msg, "evidence", attachment=str(f.path))
        try:
            self.store.set_message(f.evidence_id, msg.id)
        except sqlite3.Error as exc:
            self._warn(f"evidence index not updated: {exc}")

    def _snapshot(self, ev: RuleEvent, frame: Frame, seats: SeatMap | None
                  ) -> list[contract.EvidenceRef]:
        h, w = frame.evidence.shape[:2]
        if not self.room(f"evidence for alert {ev.alert_id}", h * w // 2):
            return []
        image = frame.evidence
        fx = image.shape[1] / frame.image.shape[1]
        fy = image.shape[0] / frame.image.shape[0]
        seat = seats.by_id.get(ev.seat) if (seats and ev.seat) else None
        polygon = crop = None
        if seat is not None:
            polygon = seat.polygon * [fx, fy]
            x1, y1, x2, y2 = seat.crop
            crop = (int(x1 * fx), int(y1 * fy), int(x2 * fx), int(y2 * fy))
        image = self._blur_others(ev.alert_id, image, polygon)
        try:
            files = self.store.snapshot(ev.alert_id, image, polygon, crop, frame.t_wall)
        except (OSError, sqlite3.Error) as exc:
            self._warn(f"evidence not saved for alert {ev.alert_id}: {exc}")
            return []
        return [self.send(f) for f in files]

    def _blur_others(self, key: str, image: np.ndarray, polygon: np.ndarray | None
                     ) -> np.ndarray:
        """Blur every face not at the flagged seat (all faces when there is no seat); the
        boxes are kept, in the ring's pixels, for the clip."""
        if self.face_blur is None:
            return image

        def at_seat(x: float, y: float) -> bool:
            return polygon is not None and inside_polygon(polygon, x, y)

        image, boxes = self.face_blur.blur(image, keep=at_seat)
        width = self.ring.max_width
        scale = width / image.shape[1] if image.shape[1] > width else 1.0
        self._masks[key] = [(b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale)
                            for b in boxes]
        return image
