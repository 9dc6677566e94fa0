"""Faces on the hub: find them in a roster photo or a seat crop, embed one, compare two.

The only hub module that imports the node's models (``edge.models``: BlazeFace and the face
embedder), the one opening in the edge/hub independence (docs/decisions.md, decision 43;
``.importlinter``). The rest of the hub asks here::

    image = read_image(photo_bytes)                # ValueError: not a JPEG/PNG picture
    face = one_face(image)                         # FaceError: no face / more than one
    vector = embed(image, face)                    # float32, L2-normalised
    similarity(vector, other)                      # cosine, -1..1

The models are built once per process on first use and shared behind a lock (an interpreter
runs one call at a time). Embeddings stay on the hub (``to_blob`` / ``from_blob`` for SQLite).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from edge.models.base import Face, FaceDetector
from edge.models.registry import create_face_detector

FaceBox = Face        # score, box (x1, y1, x2, y2) and the six keypoints, in image pixels

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
    embedder: object | None = None


_MODELS = _Models()
_LOCK = threading.Lock()


def _detector() -> FaceDetector:
    if _MODELS.detector is None:
        _MODELS.detector = create_face_detector(score_threshold=FACE_SCORE, with_yaw=False,
                                                num_threads=1)
    return _MODELS.detector


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
    """The L2-normalised float32 embedding of ``face`` in ``image_bgr``."""
    raise NotImplementedError("the face embedder lands in the next commit")


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (-1..1; the same face is near 1)."""
    a = np.asarray(a, np.float32).ravel()
    b = np.asarray(b, np.float32).ravel()
    if a.shape != b.shape:
        raise ValueError(f"embeddings of different sizes: {a.size} and {b.size}")
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom else 0.0


def to_blob(vector: np.ndarray) -> bytes:
    """An embedding as little-endian float32 bytes (a SQLite BLOB)."""
    return np.asarray(vector, "<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """The embedding that :func:`to_blob` stored."""
    return np.frombuffer(blob, "<f4").copy()
