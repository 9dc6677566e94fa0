"""CenterNet with a MobileNetV3 backbone (COCO-80), 512x512: letterbox, RGB, boxes out.

The converted model takes ``[1, 512, 512, 3]`` float32 RGB pixels 0..255 (it normalises
inside) and gives ``[1, 100, 6]``: the 100 best heatmap peaks as ``x1, y1, x2, y2`` (input
pixels), score and COCO-80 class index (the order of ``COCO_LABELS``). The graph's own
post-processing is a 3x3 max-pool peak pick, not an NMS: two peaks on one object give two
near-identical boxes, so ``decode`` runs a per-class NMS as well.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Detection, Detector, Prepared
from edge.models.coco import COCO_LABELS
from edge.models.manifest import open_model
from edge.models.nms import nms


class CenterNetDetector(Detector):
    """COCO object detector over the MobileNetV3-CenterNet TFLite file.

    ``detect`` letterboxes any image to the square input (top-left aligned, black padding, so
    boxes map back by one scale factor) and returns boxes in the image's own pixels.
    """

    INPUT_SHAPE = (1, 512, 512, 3)

    def __init__(self, path: str | Path, *, name: str = "centernet", sha256: str | None = None,
                 score_threshold: float = 0.35, iou_threshold: float = 0.5,
                 num_threads: int = 2) -> None:
        self.name = name
        self.path = Path(path)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.input_size = self.INPUT_SHAPE[1]
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        self._input_index = self._interp.get_input_details()[0]["index"]
        self._output_index = self._interp.get_output_details()[0]["index"]

    def prepare(self, image: np.ndarray) -> Prepared:
        """The letterboxed RGB float input for ``image`` (a new array each call)."""
        h, w = image.shape[:2]
        scale = self.input_size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        tensor = np.zeros(self.INPUT_SHAPE, dtype=np.float32)
        tensor[0, :nh, :nw] = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        return Prepared(tensor, scale, w, h)

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        """Run the model; the raw ``[1, 100, 6]`` output (a copy)."""
        self._interp.set_tensor(self._input_index, prepared.tensor)
        self._interp.invoke()
        return [self._interp.get_tensor(self._output_index)]

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Detection]:
        """Boxes in source pixels, best first, after per-class NMS."""
        rows = raw[0][0]
        rows = rows[rows[:, 4] >= self.score_threshold]
        if len(rows) == 0:
            return []
        w, h = prepared.width, prepared.height
        box = rows[:, :4] / prepared.scale
        np.clip(box, 0, [w, h, w, h], out=box)
        label = rows[:, 5].astype(np.int64)
        valid = (label >= 0) & (label < len(COCO_LABELS)) & (box[:, 2] > box[:, 0]) \
            & (box[:, 3] > box[:, 1])
        box, score, label = box[valid], rows[valid, 4], label[valid]
        keep = nms(box, score, self.iou_threshold, label)
        return [Detection(COCO_LABELS[label[i]], float(score[i]),
                          tuple(float(v) for v in box[i])) for i in keep]
