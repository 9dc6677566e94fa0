"""The changed-face check at the seats: each seat's check-in face, and now and then its face
compared with it (``edge.rules``' ``face_changed`` decides from the similarities).

Only in an exam that opted in (``StartSession.face_check``). Per seat:

* the **check-in face**: the embedding of the first good face seen at the seat after the
  session starts, or after the hub's check-in of that seat (``check_in(seat)``: the next good
  face, the one the check-in crop shows, becomes the seat's face);
* then at most one **comparison** every ``every_s`` seconds per seat (not every look: an
  embedding costs a model run), of the seat's good face against the check-in face.

A *good* face is the biggest face centred in the seat, at least ``min_face_px`` wide, turned
at most ``max_yaw_deg`` (a profile is not compared: it looks unlike anyone), with the keypoints
the embedder aligns by. The embeddings live in this object's memory only: never written to
disk, never sent; a restart or the session's end forgets them (after a restart the first good
face is taken again). Runs on the rules thread; pure apart from the embedder it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.models.base import Face
from edge.seats import Seat

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What embeds one face (``edge.models.face_embed.FaceEmbedder`` has this shape)."""

    def embed(self, image_bgr: np.ndarray, face: Face) -> np.ndarray: ...


@dataclass(frozen=True)
class FaceCheckParams:
    every_s: float = 15.0        # at most one comparison per seat this often
    min_face_px: float = 40.0    # a smaller face (in frame pixels) is not compared
    max_yaw_deg: float = 30.0    # nor a face turned further than this


@dataclass
class _SeatFaces:
    reference: np.ndarray | None = None
    last_compared: float = float("-inf")


class FaceCheck:
    """``start(enabled)``/``stop()`` with the session, ``check_in(seat)`` from the hub, and
    ``look(seat, image, faces, t)`` on each seat look: the similarity when it compared now,
    else None. ``embedded`` counts the model runs (the cost), ``failures`` the failed ones.

    ``make_embedder()`` builds the embedder the first time an exam opts in (a node whose exams
    never do never loads the model); if it fails, the exam runs without the check (logged)."""

    def __init__(self, make_embedder: Callable[[], Embedder] | None,
                 params: FaceCheckParams = FaceCheckParams()) -> None:
        self._make_embedder = make_embedder
        self.embedder: Embedder | None = None
        self.params = params
        self.enabled = False
        self._seats: dict[str, _SeatFaces] = {}
        self.embedded = 0
        self.failures = 0

    def start(self, enabled: bool) -> None:
        """A session starts: every seat's face is forgotten; compared only if ``enabled``
        (and the node has an embedder)."""
        self._seats.clear()
        if enabled and self.embedder is None and self._make_embedder is not None:
            try:
                self.embedder = self._make_embedder()
            except Exception as exc:          # the exam runs on without the check
                log.warning("the face embedder could not be loaded (%s): no changed-face"
                            " check in this exam", exc)
                self._make_embedder = None
        self.enabled = enabled and self.embedder is not None
        if enabled and self.embedder is None:
            log.warning("the exam asks for the changed-face check, but this node has no face"
                        " embedder: no face_changed alerts")

    def stop(self) -> None:
        self._seats.clear()
        self.enabled = False

    def check_in(self, seat: str) -> None:
        """The hub checks the seat's student in: the next good face there is the seat's."""
        self._seats.pop(seat, None)

    def has_reference(self, seat: str) -> bool:
        s = self._seats.get(seat)
        return s is not None and s.reference is not None

    def look(self, seat: Seat, image: np.ndarray, faces: Sequence[Face], t: float
             ) -> float | None:
        """``faces`` in ``image``'s pixels (the look's frame). The similarity of the seat's
        good face to its check-in face when a comparison was due and made, else None."""
        if not self.enabled or self.embedder is None:
            return None
        state = self._seats.setdefault(seat.id, _SeatFaces())
        if state.reference is not None and t - state.last_compared < self.params.every_s:
            return None                       # the cost bound: not yet due
        face = self.good_face(seat, faces)
        if face is None:
            return None
        vector = self._embed(image, face)
        if vector is None:
            return None
        if state.reference is None:
            state.reference, state.last_compared = vector, t
            return None
        state.last_compared = t
        return _cosine(vector, state.reference)

    def good_face(self, seat: Seat, faces: Sequence[Face]) -> Face | None:
        """The biggest face centred in ``seat`` if it is big and frontal enough."""
        mine = [f for f in faces if seat.contains((f.box[0] + f.box[2]) / 2,
                                                  (f.box[1] + f.box[3]) / 2)]
        if not mine:
            return None
        face = max(mine, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        if face.box[2] - face.box[0] < self.params.min_face_px:
            return None
        if face.yaw is not None and abs(face.yaw) > self.params.max_yaw_deg:
            return None
        if getattr(face, "keypoints", None) is None:
            return None
        return face

    def _embed(self, image: np.ndarray, face: Face) -> np.ndarray | None:
        assert self.embedder is not None
        try:
            vector = np.asarray(self.embedder.embed(image, face), np.float32).ravel()
        except Exception as exc:   # a model failure costs the comparison, never the look
            self.failures += 1
            if self.failures <= 3 or self.failures % 100 == 0:
                log.warning("face embedding failed (%d so far): %s", self.failures, exc)
            return None
        self.embedded += 1
        return vector


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom else 0.0
