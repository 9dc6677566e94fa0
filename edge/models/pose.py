"""MoveNet SinglePose Lightning: a person crop in, 17 COCO keypoints in its pixels out.

The converted model takes ``[1, 192, 192, 3]`` int32 RGB pixels 0..255 (it normalises inside)
and gives ``[1, 1, 17, 3]`` = per keypoint ``(y, x, score)``, y and x 0..1 of the input square.
``prepare`` letterboxes the crop into that square (top-left aligned, zero padding) so that
``decode`` maps the keypoints back by one scale factor. It expects one person roughly filling
the crop (a person detector's box, a little enlarged); with several people it picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Prepared, _Staged
from edge.models.manifest import open_model
from kuzet.errors import ModelError

KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_INDEX = {name: i for i, name in enumerate(KEYPOINTS)}


@dataclass(frozen=True, eq=False)
class Pose:
    """One person's keypoints: ``(17, 3)`` float32 rows ``(x, y, score)`` in the order of
    ``KEYPOINTS``, x and y in the pixels of the image passed in, score 0..1. "left" is the
    person's own left (on the image's right when they face the camera)."""

    keypoints: np.ndarray

    def point(self, name: str) -> tuple[float, float, float]:
        """``(x, y, score)`` of keypoint ``name`` (e.g. ``"left_wrist"``)."""
        if name not in _INDEX:
            raise KeyError(f"no keypoint {name!r}; valid: {', '.join(KEYPOINTS)}")
        x, y, score = self.keypoints[_INDEX[name]]
        return float(x), float(y), float(score)

    def seen(self, name: str, min_score: float = 0.3) -> bool:
        """Whether keypoint ``name`` scores at least ``min_score``."""
        return self.point(name)[2] >= min_score

    @property
    def score(self) -> float:
        """The mean keypoint score: low when the crop holds no person."""
        return float(self.keypoints[:, 2].mean())

    def as_dict(self) -> dict:
        return {name: [round(float(v), 1 if i < 2 else 3) for i, v in enumerate(row)]
                for name, row in zip(KEYPOINTS, self.keypoints, strict=True)}


class PoseEstimator(_Staged):
    """Single-person pose over the MoveNet Lightning TFLite file; ``image`` is an ``HxWx3``
    uint8 BGR person crop. Staged like the detectors: ``prepare`` and ``decode`` on any
    thread, ``infer`` on one."""

    INPUT_SHAPE = (1, 192, 192, 3)

    def __init__(self, path: str | Path, *, name: str = "movenet-lightning",
                 sha256: str | None = None, num_threads: int = 2) -> None:
        self.name = name
        self.path = Path(path)
        self.input_size = self.INPUT_SHAPE[1]
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        detail = self._interp.get_input_details()[0]
        if detail["dtype"] != np.int32:
            raise ModelError(f"model file {self.path} takes {detail['dtype']}, expected int32")
        self._input_index = detail["index"]
        self._output_index = self._interp.get_output_details()[0]["index"]

    def prepare(self, image: np.ndarray) -> Prepared:
        """The letterboxed RGB int32 input for ``image`` (a new array each call)."""
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            raise ValueError("cannot estimate a pose in an empty crop")
        scale = self.input_size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1
                             else cv2.INTER_LINEAR)
        tensor = np.zeros(self.INPUT_SHAPE, dtype=np.int32)
        tensor[0, :nh, :nw] = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        return Prepared(tensor, scale, w, h)

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        """Run the model; the raw ``[1, 1, 17, 3]`` output (a copy)."""
        self._interp.set_tensor(self._input_index, prepared.tensor)
        self._interp.invoke()
        return [self._interp.get_tensor(self._output_index)]

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> Pose:
        """The pose in the crop's pixels (keypoints clipped to the crop)."""
        yx_score = raw[0].reshape(len(KEYPOINTS), 3).astype(np.float32)
        px = yx_score[:, :2] * (self.input_size / prepared.scale)
        keypoints = np.empty((len(KEYPOINTS), 3), np.float32)
        keypoints[:, 0] = np.clip(px[:, 1], 0, prepared.width)
        keypoints[:, 1] = np.clip(px[:, 0], 0, prepared.height)
        keypoints[:, 2] = yx_score[:, 2]
        keypoints.flags.writeable = False
        return Pose(keypoints)

    def estimate(self, image: np.ndarray) -> Pose:
        """The pose of the person in ``image`` (HxWx3 uint8 BGR), in its pixels."""
        prepared = self.prepare(image)
        return self.decode(self.infer(prepared), prepared)
