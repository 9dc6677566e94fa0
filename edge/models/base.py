"""The detector interface: an image in, labelled boxes in source pixels out.

Every model sits behind one of these two small interfaces, with a decoder per model, so that
swapping the model is a config change (in the spirit of Frigate's detector plugins).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One object: COCO label (``person``, ``cell phone``, ``book`` …), score 0..1, and
    box ``(x1, y1, x2, y2)`` in the pixels of the image that was passed in."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def as_dict(self) -> dict:
        return {"label": self.label, "score": round(self.score, 4),
                "box": [round(v, 1) for v in self.box]}


@dataclass(frozen=True)
class Face:
    """One face: score, box in source pixels, and head yaw in degrees (negative = turned to
    the image's left, positive = to the right; ``None`` when no mesh was run).

    ``keypoints``: BlazeFace's six ``(x, y)`` in source pixels (the subject's right eye, left
    eye, nose tip, mouth, right ear, left ear), which the face embedder aligns by; ``None``
    from a detector that gives none."""

    score: float
    box: tuple[float, float, float, float]
    yaw: float | None = None
    keypoints: tuple[tuple[float, float], ...] | None = None

    def as_dict(self) -> dict:
        return {"score": round(self.score, 4), "box": [round(v, 1) for v in self.box],
                "yaw": None if self.yaw is None else round(self.yaw, 1)}


@dataclass(frozen=True)
class Prepared:
    """A model's input for one image, made by ``prepare`` on any thread.

    Detectors run in three stages so that the node can keep the model busy: ``prepare`` (resize
    and normalise: any thread), ``infer`` (the interpreter: one thread only) and ``decode``
    (outputs to boxes in source pixels: any thread). ``detect`` runs all three in a row.
    """

    tensor: np.ndarray
    scale: float
    width: int
    height: int
    image: np.ndarray | None = None     # kept for decoders that need the pixels again


class _Staged(ABC):
    name: str
    input_size: int

    @abstractmethod
    def prepare(self, image: np.ndarray) -> Prepared: ...

    @abstractmethod
    def infer(self, prepared: Prepared) -> list[np.ndarray]: ...


class Detector(_Staged):
    """Object detector. ``image`` is an ``HxWx3`` uint8 BGR array (OpenCV's order)."""

    @abstractmethod
    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Detection]: ...

    def detect(self, image: np.ndarray) -> list[Detection]:
        prepared = self.prepare(image)
        return self.decode(self.infer(prepared), prepared)


class FaceDetector(_Staged):
    """Face detector with head yaw. ``image`` is an ``HxWx3`` uint8 BGR array."""

    @abstractmethod
    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Face]: ...

    def detect(self, image: np.ndarray) -> list[Face]:
        prepared = self.prepare(image)
        return self.decode(self.infer(prepared), prepared)
