"""Scripted detectors: the shape of the real ``Detector`` and ``FaceDetector`` (the same three
stages ``prepare`` / ``infer`` / ``decode``, ``detect``, ``name``), with no model behind them.

Each one answers what its script says, so node tests that are not about perception run without
model files or real footage::

    phone_at_red = ScriptedDetector(coloured("cell phone", RED))    # a red blob is a phone
    nobody = ScriptedDetector()                                      # sees nothing, ever
    twice = ScriptedDetector([[person], [person], []])               # per call, then nothing

A script is either a function ``(call, image) -> detections`` (``call`` counts from 0, in the
order ``infer`` ran; ``image`` is what was passed to ``prepare``: a seat's crop on the node) or
a list of answers, one per call, then nothing. Boxes are in the pixels of that image, as a real
detector's are. ``infer_s`` makes each ``infer`` take that long, as a model would (a node
with an instant detector would spin its threads flat out).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from edge.models.base import Detection, Detector, Face, FaceDetector, Prepared

Script = Callable[[int, np.ndarray], Sequence]


def coloured(label: str, bgr: tuple[int, int, int], score: float = 0.9) -> Script:
    """A script that reports one ``label`` over the pixels of exactly colour ``bgr``."""
    def script(call: int, image: np.ndarray) -> list[Detection]:
        ys, xs = np.nonzero(np.all(image == np.uint8(bgr), axis=2))
        if not len(xs):
            return []
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        return [Detection(label, score, box)]
    return script


def _as_script(script: Script | Sequence[Sequence] | None) -> Script:
    if script is None:
        return lambda call, image: []
    if callable(script):
        return script
    answers = list(script)
    return lambda call, image: answers[call] if call < len(answers) else []


class _Scripted:
    input_size = 416

    def __init__(self, script: Script | Sequence[Sequence] | None, name: str,
                 infer_s: float) -> None:
        self.name = name
        self.infer_s = infer_s
        self.calls = 0                      # how many times ``infer`` ran
        self._script = _as_script(script)
        self._lock = threading.Lock()

    def prepare(self, image: np.ndarray) -> Prepared:
        h, w = image.shape[:2]
        return Prepared(np.zeros((1, 1), np.float32), 1.0, w, h, image)

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        if self.infer_s:
            time.sleep(self.infer_s)
        with self._lock:
            call = self.calls
            self.calls += 1
        return [np.array([call])]

    def _answer(self, raw: list[np.ndarray], prepared: Prepared) -> list:
        assert prepared.image is not None
        return list(self._script(int(raw[0][0]), prepared.image))


class ScriptedDetector(_Scripted, Detector):
    """An object detector that answers from its script (``Detection``s)."""

    def __init__(self, script: Script | Sequence[Sequence[Detection]] | None = None, *,
                 name: str = "scripted", infer_s: float = 0.0) -> None:
        super().__init__(script, name, infer_s)

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Detection]:
        return self._answer(raw, prepared)


class ScriptedFaceDetector(_Scripted, FaceDetector):
    """A face detector that answers from its script (``Face``s)."""

    def __init__(self, script: Script | Sequence[Sequence[Face]] | None = None, *,
                 name: str = "scripted-faces", infer_s: float = 0.0) -> None:
        super().__init__(script, name, infer_s)

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Face]:
        return self._answer(raw, prepared)
