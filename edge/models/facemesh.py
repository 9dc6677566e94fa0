"""MediaPipe face mesh (468 landmarks) on a face crop, and head yaw from it by ``solvePnP``.

The crop follows MediaPipe: a square 1.5 times the face box's longer side, centred on the box,
rotated so that the line from the subject's right eye to their left eye is horizontal, resized
to 192x192 RGB in [0, 1]. The mesh comes back in crop pixels and is mapped to the source image.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from edge.models.manifest import open_model

# Mesh indices: nose tip, chin, outer eye corners (subject's right, left), mouth corners
# (subject's right, left); the first of each pair is on the image's left in a frontal photo.
POSE_LANDMARKS = (1, 152, 33, 263, 61, 291)
# A generic face in the camera's axes (x right, y down, z away from the camera), millimetre-like
# units, looking straight at the camera.
FACE_MODEL = np.array([
    (0.0, 0.0, 0.0),
    (0.0, 330.0, 65.0),
    (-225.0, -170.0, 135.0),
    (225.0, -170.0, 135.0),
    (-150.0, 150.0, 125.0),
    (150.0, 150.0, 125.0),
], dtype=np.float64)


class FaceMesh:
    """Runs the face mesh on a detected face; ``yaw`` gives the head's yaw in degrees."""

    INPUT_SHAPE = (1, 192, 192, 3)

    def __init__(self, path: str | Path, *, sha256: str | None = None, num_threads: int = 2,
                 min_presence: float = 0.05) -> None:
        self.path = Path(path)
        self.min_presence = min_presence
        self.size = self.INPUT_SHAPE[1]
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        self._input_index = self._interp.get_input_details()[0]["index"]
        outs = {int(o["shape"][-1]): o["index"] for o in self._interp.get_output_details()}
        self._mesh_index, self._presence_index = outs[1404], outs[1]
        self._input = np.zeros(self.INPUT_SHAPE, dtype=np.float32)

    def _crop_transform(self, box: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """Affine 2x3 matrix from source pixels to the upright 192x192 crop."""
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = max(box[2] - box[0], box[3] - box[1]) * 1.5
        (rx, ry), (lx, ly) = keypoints[0], keypoints[1]
        angle = math.degrees(math.atan2(ly - ry, lx - rx))
        matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, self.size / side)
        matrix[:, 2] += (self.size / 2 - cx, self.size / 2 - cy)
        return matrix

    def landmarks(self, image: np.ndarray, box: np.ndarray,
                  keypoints: np.ndarray) -> tuple[np.ndarray, float]:
        """``(468, 3)`` landmarks (x, y in source pixels; z in the same scale) and presence."""
        matrix = self._crop_transform(np.asarray(box, float), np.asarray(keypoints, float))
        crop = cv2.warpAffine(image, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        np.multiply(rgb, 1.0 / 255.0, out=self._input[0], casting="unsafe")
        self._interp.set_tensor(self._input_index, self._input)
        self._interp.invoke()
        mesh = self._interp.get_tensor(self._mesh_index).reshape(-1, 3).astype(np.float64)
        logit = float(self._interp.get_tensor(self._presence_index).ravel()[0])
        presence = 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))
        inverse = cv2.invertAffineTransform(matrix)
        xy = mesh[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        z = mesh[:, 2:] * math.hypot(inverse[0, 0], inverse[0, 1])
        return np.hstack([xy, z]), presence

    def yaw(self, image: np.ndarray, box: np.ndarray, keypoints: np.ndarray) -> float | None:
        """Head yaw in degrees: positive = nose towards the image's right; ``None`` when the
        mesh does not see a face in the crop."""
        points, presence = self.landmarks(image, box, keypoints)
        if presence < self.min_presence:
            return None
        return yaw_from_points(points[list(POSE_LANDMARKS), :2], image.shape[1], image.shape[0])


def yaw_from_points(points: np.ndarray, width: int, height: int) -> float | None:
    """Yaw in degrees of the generic face fitted to the six 2-D ``POSE_LANDMARKS`` points, for
    a camera with focal length ``max(width, height)`` centred on the image."""
    focal = float(max(width, height))
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], np.float64)
    ok, rvec, _ = cv2.solvePnP(FACE_MODEL, np.ascontiguousarray(points, np.float64), camera,
                               None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    forward = rotation @ np.array([0.0, 0.0, -1.0])  # where the nose points
    return math.degrees(math.atan2(forward[0], -forward[2]))
