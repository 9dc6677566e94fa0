"""Faces on the hub: find them in a roster photo or a seat crop, embed one, compare two.

The only hub module that imports the node's models (``edge.models``: BlazeFace and the face
embedder), the one opening in the edge/hub independence (docs/decisions.md, decision 43;
``.importlinter``). The rest of the hub asks here::

    image = read_image(photo_bytes)                # ValueError: not a JPEG/PNG picture
    face = one_face(image)                         # FaceError: no face / more than one
    vector = embed(image, face)                    # float32, L2-normalised (1024)
    face_embedding(image)                          # the one face's, None without a face
    similarity(vector, other)                      # cosine, -1..1

The models are built once per process on first use and shared behind a lock (an interpreter
runs one call at a time). Embeddings stay on the hub (``to_blob`` / ``from_blob`` for SQLite).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from edge.models import face_embed
from edge.models.base import Face, FaceDetector
from edge.models.face_embed import FaceEmbedder
from edge.models.face_operating_point import FACE_MATCH_THRESHOLD
from edge.models.registry import create_face_detector, create_face_embedder

FaceBox = Face        # score, box (x1, y1, x2, y2) and the six keypoints, in image pixels

# the 1:1 match's "likely" from this cosine similarity (measured: docs/detection.md)
MATCH_THRESHOLD = FACE_MATCH_THRESHOLD

# a roster photo or a seat crop: BlazeFace's default confidence
FACE_SCORE = 0.5


class FaceError(ValueError):
    """An image without exactly the one face asked for; ``reason`` is ``"no_face"`` or
    ``"many_faces"``, ``count`` the faces found."""

    def __init__(self, reason: str, count: int) -> None:
        self.reason, self.count = reason, count
        super().__init__("no face found" if reason == "no_face"
                         else f"{count} faces found, expected one")


@dataclass
class _Models:
    detector: FaceDetector | None = None
    embedder: FaceEmbedder | None = None


_MODELS = _Models()
_LOCK = threading.Lock()


def _detector() -> FaceDetector:
    if _MODELS.detector is None:
        _MODELS.detector = create_face_detector(score_threshold=FACE_SCORE, with_yaw=False,
                                                num_threads=1)
    return _MODELS.detector


def _embedder() -> FaceEmbedder:
    if _MODELS.embedder is None:
        _MODELS.embedder = create_face_embedder(num_threads=1)
    return _MODELS.embedder


def read_image(data: bytes) -> np.ndarray:
    """A JPEG or PNG file's bytes as an ``HxWx3`` uint8 BGR image; ValueError otherwise."""
    if not data:
        raise ValueError("empty file")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a JPEG or PNG picture")
    return image


def find_faces(image_bgr: np.ndarray) -> list[FaceBox]:
    """Every face in ``image_bgr`` (``HxWx3`` uint8 BGR), best first, with keypoints."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 image, not {image_bgr.shape} "
                         f"{image_bgr.dtype}")
    with _LOCK:
        return _detector().detect(image_bgr)


def one_face(image_bgr: np.ndarray) -> FaceBox:
    """The one face in ``image_bgr``; :class:`FaceError` when there is none or more."""
    faces = find_faces(image_bgr)
    if len(faces) != 1:
        raise FaceError("no_face" if not faces else "many_faces", len(faces))
    return faces[0]


def embed(image_bgr: np.ndarray, face: FaceBox) -> np.ndarray:
    """The L2-normalised float32 embedding (1024 values) of ``face``, one of
    :func:`find_faces`' faces of ``image_bgr``, aligned by its keypoints."""
    with _LOCK:
        return _embedder().embed(image_bgr, face)


def face_embedding(image_bgr: np.ndarray) -> np.ndarray | None:
    """The embedding of the one face in ``image_bgr``; ``None`` when there is no face;
    :class:`FaceError` when there are several."""
    try:
        face = one_face(image_bgr)
    except FaceError as exc:
        if exc.reason == "no_face":
            return None
        raise
    return embed(image_bgr, face)


similarity = face_embed.similarity      # cosine of two embeddings, -1..1


def to_blob(vector: np.ndarray) -> bytes:
    """An embedding as little-endian float32 bytes (a SQLite BLOB)."""
    return np.asarray(vector, "<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """The embedding that :func:`to_blob` stored."""
    return np.frombuffer(blob, "<f4").copy()
