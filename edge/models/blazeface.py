"""BlazeFace full range (MediaPipe) decoder, with head yaw from the face mesh.

The detector takes ``[1, 192, 192, 3]`` float32 RGB in [-1, 1] and gives, for 2304 anchors (a
48x48 grid, stride 4, one anchor per cell), 16 regressors (box centre and size, then six
keypoints: the subject's right eye, left eye, nose tip, mouth, right ear, left ear) in input
pixels relative to the anchor, and one score logit. Faces are kept after NMS at IoU 0.3.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Face, FaceDetector, Prepared
from edge.models.facemesh import FaceMesh
from edge.models.manifest import open_model
from edge.models.nms import nms

GRID = 48


class BlazeFaceDetector(FaceDetector):
    """Face detector; with ``mesh`` set, each face also gets ``yaw`` in degrees from the mesh.

    Yaw convention (see ``docs/models.md``): positive when the nose points to the right of the
    image (the person has turned to their own left), negative when it points to the left.
    """

    INPUT_SHAPE = (1, 192, 192, 3)

    def __init__(self, path: str | Path, *, name: str = "blazeface", sha256: str | None = None,
                 score_threshold: float = 0.5, iou_threshold: float = 0.3,
                 num_threads: int = 2, mesh: FaceMesh | None = None,
                 max_faces: int = 50) -> None:
        self.name = name
        self.path = Path(path)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_faces = max_faces
        self.mesh = mesh
        self.input_size = self.INPUT_SHAPE[1]
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        self._input_index = self._interp.get_input_details()[0]["index"]
        outs = {int(o["shape"][-1]): o["index"] for o in self._interp.get_output_details()}
        self._reg_index, self._score_index = outs[16], outs[1]
        ys, xs = np.mgrid[0:GRID, 0:GRID].astype(np.float32)
        stride = self.input_size / GRID
        self._anchors = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], 1)
        # logit threshold: sigmoid(x) >= t  <=>  x >= log(t / (1 - t))
        t = min(max(score_threshold, 1e-6), 1 - 1e-6)
        self._logit_threshold = float(np.log(t / (1 - t)))

    def prepare(self, image: np.ndarray) -> Prepared:
        """The model's input for ``image`` (a new array: thread-safe, see ``Prepared``)."""
        h, w = image.shape[:2]
        scale = self.input_size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)
        rgb *= 1.0 / 127.5
        rgb -= 1.0
        tensor = np.zeros(self.INPUT_SHAPE, dtype=np.float32)  # grey padding
        tensor[0, :nh, :nw] = rgb
        return Prepared(tensor, scale, w, h, image)

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        self._interp.set_tensor(self._input_index, prepared.tensor)
        self._interp.invoke()
        return [self._interp.get_tensor(self._score_index),
                self._interp.get_tensor(self._reg_index)]

    def decode_raw(self, raw: list[np.ndarray], prepared: Prepared
                   ) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """``(score, box x1y1x2y2, keypoints (6, 2))`` per face, in source pixels."""
        w, h, scale = prepared.width, prepared.height, prepared.scale
        logits = raw[0][0, :, 0]
        idx = np.nonzero(logits >= self._logit_threshold)[0]
        if idx.size == 0:
            return []
        reg = raw[1][0][idx]
        centre = self._anchors[idx] + reg[:, 0:2]
        half = reg[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1) / scale
        keypoints = (reg[:, 4:16].reshape(-1, 6, 2) + self._anchors[idx, None, :]) / scale
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[idx], -100, 100)))
        np.clip(boxes, 0, [w, h, w, h], out=boxes)
        keep = nms(boxes, scores, self.iou_threshold, max_out=self.max_faces)
        return [(float(scores[i]), boxes[i], keypoints[i]) for i in keep]

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Face]:
        """Faces, best first, with yaw from the mesh (which runs here) when a mesh is set."""
        faces = []
        image = prepared.image
        for score, box, keypoints in self.decode_raw(raw, prepared):
            yaw = None if self.mesh is None else self.mesh.yaw(image, box, keypoints)
            points = tuple((float(x), float(y)) for x, y in keypoints)
            faces.append(Face(score, tuple(float(v) for v in box), yaw, points))
        return faces

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image`` (HxWx3 uint8 BGR), best first, with yaw when a mesh is set."""
        prepared = self.prepare(image)
        return self.decode(self.infer(prepared), prepared)
