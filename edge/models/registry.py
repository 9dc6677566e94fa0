"""Detectors by name: swapping the model is a config change.

``DETECTORS`` and ``FACE_DETECTORS`` map each valid name to its manifest entry; the config
validates against them. Each detector is built once and keeps its interpreter.
"""

from __future__ import annotations

from pathlib import Path

from edge.models.base import Detector, FaceDetector
from edge.models.blazeface import BlazeFaceDetector
from edge.models.facemesh import FaceMesh
from edge.models.manifest import get_entry
from edge.models.nanodet import NanoDetDetector
from kuzet.errors import ModelError

# name -> manifest entry name; the decoder comes from the manifest entry.
DETECTORS: dict[str, str] = {
    "nanodet-m-416-int8": "nanodet-m-416-int8",
    "nanodet-m-416-fp16": "nanodet-m-416-fp16",
}
FACE_DETECTORS: dict[str, str] = {
    "blazeface-full-range": "blazeface-full-range",
}
FACE_MESH = "face-mesh"
# int8 is as accurate as fp16 on the eval set and about twice as fast (docs/models.md).
DEFAULT_DETECTOR = "nanodet-m-416-int8"
DEFAULT_FACE_DETECTOR = "blazeface-full-range"


def _unknown(kind: str, name: str, valid: dict[str, str]) -> ModelError:
    return ModelError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid))}")


def create_detector(name: str = DEFAULT_DETECTOR, score_threshold: float = 0.35,
                    num_threads: int = 2, manifest: str | Path | None = None) -> Detector:
    """The COCO object detector called ``name`` (a key of ``DETECTORS``).

    Example: ``create_detector("nanodet-m-416-fp16").detect(frame)`` -> ``[Detection, ...]``.
    """
    if name not in DETECTORS:
        raise _unknown("detector", name, DETECTORS)
    entry = get_entry(DETECTORS[name], manifest)
    if entry.decoder != "nanodet":
        raise ModelError(f"model {entry.name} has decoder {entry.decoder!r}, expected 'nanodet'")
    return NanoDetDetector(entry.path, name=name, sha256=entry.sha256,
                           score_threshold=score_threshold, num_threads=num_threads)


def create_face_detector(name: str = DEFAULT_FACE_DETECTOR, score_threshold: float = 0.5,
                         with_yaw: bool = True, num_threads: int = 2,
                         manifest: str | Path | None = None) -> FaceDetector:
    """The face detector called ``name`` (a key of ``FACE_DETECTORS``); with ``with_yaw`` each
    face also gets its head yaw from the face mesh."""
    if name not in FACE_DETECTORS:
        raise _unknown("face detector", name, FACE_DETECTORS)
    entry = get_entry(FACE_DETECTORS[name], manifest)
    if entry.decoder != "blazeface":
        raise ModelError(f"model {entry.name} has decoder {entry.decoder!r}, "
                         "expected 'blazeface'")
    mesh = None
    if with_yaw:
        mesh_entry = get_entry(FACE_MESH, manifest)
        mesh = FaceMesh(mesh_entry.path, sha256=mesh_entry.sha256, num_threads=num_threads)
    return BlazeFaceDetector(entry.path, name=name, sha256=entry.sha256,
                             score_threshold=score_threshold, num_threads=num_threads,
                             mesh=mesh)
