"""SSDLite MobileNetV2 (COCO, TF Object Detection API) decoder: stretch, RGB, per-class NMS.

The converted model takes ``[1, 300, 300, 3]`` float32 RGB pixels 0..255, the whole image
stretched to the square (no letterbox; the graph normalises inside), and gives, per each of
its 1917 anchors, class scores ``[1, 1917, 90]`` (sigmoid, background column removed: column
``i`` is COCO-91 category id ``i + 1``) and the decoded box ``[1, 1917, 1, 4]`` as ``ymin,
xmin, ymax, xmax`` in 0..1 of the image. The graph's own NMS was cut off at conversion, so
``decode`` runs a per-class NMS.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Detection, Detector, Prepared
from edge.models.coco import COCO_LABELS
from edge.models.manifest import open_model
from edge.models.nms import nms

# COCO-91 category ids that COCO-80 leaves out (never annotated)
_UNUSED_IDS = frozenset({12, 26, 29, 30, 45, 66, 68, 69, 71, 83})
# score column (COCO-91 id - 1) -> index into COCO_LABELS, -1 for the unused ids
COLUMN_TO_LABEL = np.full(90, -1, dtype=np.int64)
COLUMN_TO_LABEL[[i - 1 for i in range(1, 91) if i not in _UNUSED_IDS]] = np.arange(80)


class SSDLiteDetector(Detector):
    """COCO object detector over the SSDLite MobileNetV2 TFLite file.

    ``detect`` stretches any image to the 300x300 input (as the model was trained) and returns
    boxes in the image's own pixels, best first.
    """

    INPUT_SHAPE = (1, 300, 300, 3)

    def __init__(self, path: str | Path, *, name: str = "ssdlite", sha256: str | None = None,
                 score_threshold: float = 0.35, iou_threshold: float = 0.5,
                 num_threads: int = 2, max_detections: int = 100) -> None:
        self.name = name
        self.path = Path(path)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self.input_size = self.INPUT_SHAPE[1]
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        self._input_index = self._interp.get_input_details()[0]["index"]
        outputs = {len(o["shape"]): o["index"] for o in self._interp.get_output_details()}
        self._scores_index, self._boxes_index = outputs[3], outputs[4]

    def prepare(self, image: np.ndarray) -> Prepared:
        """The stretched RGB float input for ``image`` (a new array each call)."""
        h, w = image.shape[:2]
        size = (self.INPUT_SHAPE[2], self.INPUT_SHAPE[1])
        resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        tensor = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)[None]
        return Prepared(tensor, 1.0, w, h)

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        """Run the model; ``[scores [1, 1917, 90], boxes [1, 1917, 1, 4]]`` (copies)."""
        self._interp.set_tensor(self._input_index, prepared.tensor)
        self._interp.invoke()
        return [self._interp.get_tensor(self._scores_index),
                self._interp.get_tensor(self._boxes_index)]

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Detection]:
        """Boxes in source pixels (``prepared.width`` x ``prepared.height``), best first,
        after per-class NMS."""
        scores, boxes = raw[0][0], raw[1][0, :, 0]
        scores = np.where(COLUMN_TO_LABEL >= 0, scores, 0.0)
        anchor, column = np.nonzero(scores >= self.score_threshold)
        if len(anchor) == 0:
            return []
        w, h = prepared.width, prepared.height
        box = boxes[anchor][:, [1, 0, 3, 2]] * np.array([w, h, w, h], np.float32)
        np.clip(box, 0, [w, h, w, h], out=box)
        score = scores[anchor, column]
        label = COLUMN_TO_LABEL[column]
        valid = (box[:, 2] > box[:, 0]) & (box[:, 3] > box[:, 1])
        box, score, label = box[valid], score[valid], label[valid]
        keep = nms(box, score, self.iou_threshold, label, self.max_detections)
        return [Detection(COCO_LABELS[label[i]], float(score[i]),
                          tuple(float(v) for v in box[i])) for i in keep]
