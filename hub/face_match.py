"""The automatic 1:1 face match at check-in: advice to the proctor, never a verdict.

In an exam that opted in (``sessions.face_match``), each check-in crop the hub stores is
compared with the roster photo of the seat's student: the one face in the photo against the
crop's largest, most central face, embedded by ``hub.faces`` and compared by cosine
similarity with ``THRESHOLD`` (the true-accept rate at 1% false-accept, docs/detection.md).
The advice, kept with the check-in (``hub.store.face_matches``): ``likely`` or ``unlikely``
the same person (with the similarity), ``no_face`` in the crop, ``no_photo_face`` in the
photo, or ``failed``: the model failed, no automatic match (logged; the check-in itself works
as without the match).

The work runs on this module's own thread (a match takes tens of milliseconds of model time;
the writer's and the ingest's threads only hand it the crop's id). Embeddings are made and
kept only on the hub: the crop's only in memory for the comparison, the photo's in
``photo_embeddings`` (gone with the photo). No Flask here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hub import faces
from hub.evidence import EvidenceFolder
from hub.store import face_matches as store
from hub.store.db import connect
from kuzet import contract

log = logging.getLogger(__name__)

# Cosine similarity at or above which the crop's face is "likely" the photo's person: TAR 0.971
# at 1% FAR on the labelled face pairs (edge/models/face_operating_point.py).
THRESHOLD = faces.MATCH_THRESHOLD
MODEL = "faceres"          # the embedder the photo embeddings were made by (cache key)


@dataclass(frozen=True)
class Match:
    result: str                    # one of hub.store.face_matches.RESULTS
    similarity: float | None = None


def main_face(found: list[faces.FaceBox], width: int, height: int) -> faces.FaceBox | None:
    """The seat's student in a check-in crop: the largest face, a face far from the crop's
    centre counting less (a neighbour's half face at the edge loses to the student's)."""
    if not found:
        return None
    cx, cy, half = width / 2, height / 2, max(width, height) / 2

    def weight(f: faces.FaceBox) -> float:
        x1, y1, x2, y2 = f.box
        off = np.hypot((x1 + x2) / 2 - cx, (y1 + y2) / 2 - cy) / half
        return (x2 - x1) * (y2 - y1) * max(0.1, 1.0 - off)
    return max(found, key=weight)


def judge(photo: np.ndarray, crop: np.ndarray, threshold: float = THRESHOLD,
          photo_vector: np.ndarray | None = None) -> tuple[Match, np.ndarray | None]:
    """The advice for ``crop`` (BGR) against ``photo`` (BGR), and the photo's embedding (to
    keep; None when the photo has not exactly one face). ``photo_vector``: the photo's
    embedding made before (the photo is not looked at again)."""
    if photo_vector is None:
        try:
            face = faces.one_face(photo)
        except faces.FaceError:
            return Match("no_photo_face"), None
        photo_vector = faces.embed(photo, face)
    found = main_face(faces.find_faces(crop), crop.shape[1], crop.shape[0])
    if found is None:
        return Match("no_face"), photo_vector
    sim = faces.similarity(faces.embed(crop, found), photo_vector)
    return Match("likely" if sim >= threshold else "unlikely", sim), photo_vector


class FaceMatcher:
    """``start()``, ``stop()``; ``after_commit(batch)`` (the writer calls it after each
    commit) queues the batch's check-in crops. ``done`` counts the matches recorded,
    ``last_ms`` the last one's time."""

    def __init__(self, db_path: str | Path, writer, evidence: EvidenceFolder,
                 photos: EvidenceFolder, threshold: float = THRESHOLD) -> None:
        self.db_path = db_path
        self.writer = writer
        self.evidence = evidence
        self.photos = photos
        self.threshold = threshold
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="hub-face-match", daemon=True)
        self.done = 0
        self.last_ms = 0.0
        self.idle = threading.Event()
        self.idle.set()

    def start(self) -> FaceMatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def after_commit(self, jobs: Iterable) -> None:
        """Cheap, on the writer's thread: only the ids of the new check-in crops."""
        for job in jobs:
            msg = getattr(job, "msg", None)
            if isinstance(msg, contract.EvidenceMessage) and msg.kind == "check-in":
                self.submit(msg.evidence_id)

    def submit(self, evidence_id: str) -> None:
        self.idle.clear()
        self._queue.put(evidence_id)

    def _run(self) -> None:
        conn = connect(self.db_path, readonly=True)
        try:
            while True:
                evidence_id = self._queue.get()
                if evidence_id is None:
                    return
                try:
                    self.match(conn, evidence_id)
                except Exception:           # never let the matcher die; the check-in works
                    log.exception("face match of check-in crop %s failed", evidence_id)
                if self._queue.empty():
                    self.idle.set()
        finally:
            conn.close()

    def match(self, conn, evidence_id: str) -> Match | None:
        """Match one stored check-in crop, if its exam opted in and its student has a photo;
        record the advice. None when there is nothing to match."""
        crop = store.check_in_crop(conn, evidence_id)
        if crop is None or not crop.face_match or not crop.student_no or not crop.photo_file:
            return None
        t0 = time.perf_counter()
        try:
            blob = store.photo_embedding(conn, crop.student_no, crop.photo_sha256 or "", MODEL)
            known = faces.from_blob(blob) if blob else None
            photo = None if known is not None else faces.read_image(
                self.photos.resolve(crop.photo_file).read_bytes())
            image = faces.read_image(self.evidence.resolve(crop.file).read_bytes())
            result, vector = judge(photo, image, self.threshold, known)
        except Exception as exc:            # the model or a file: no automatic match
            log.warning("face match of check-in crop %s: no automatic match (%s: %s)",
                        evidence_id, type(exc).__name__, exc)
            result, vector = Match("failed"), None
        ms = (time.perf_counter() - t0) * 1000
        self.writer.call(self._record, crop, result, vector if known is None else None, ms)
        self.done += 1
        self.last_ms = ms
        log.info("face match of check-in crop %s (seat %s): %s%s in %.0f ms", evidence_id,
                 crop.seat, result.result, "" if result.similarity is None
                 else f" ({result.similarity:.3f})", ms)
        return result

    def _record(self, conn, crop: store.CheckInCrop, result: Match,
                vector: np.ndarray | None, ms: float) -> None:
        if vector is not None and crop.student_no and crop.photo_sha256:
            store.keep_photo_embedding(conn, crop.student_no, crop.photo_sha256, MODEL,
                                       faces.to_blob(vector))
        store.record(conn, crop, result.result, result.similarity, self.threshold, MODEL, ms)
