"""Models by name: swapping the model is a config change.

``DETECTORS``, ``FACE_DETECTORS``, ``FACE_EMBEDDERS``, ``CLASSIFIERS`` and ``POSE_ESTIMATORS``
map each valid name to its manifest entry; the config validates against them. Each model is
built once and keeps its interpreter.
"""

from __future__ import annotations

from pathlib import Path

from edge.models.base import Detector, FaceDetector
from edge.models.blazeface import BlazeFaceDetector
from edge.models.classifier import ImageClassifier
from edge.models.face_embed import FaceEmbedder
from edge.models.facemesh import FaceMesh
from edge.models.manifest import get_entry
from edge.models.nanodet import NanoDetDetector
from edge.models.pose import PoseEstimator
from edge.models.ssdlite import SSDLiteDetector
from kuzet.errors import ModelError

# name -> manifest entry name; the decoder comes from the manifest entry.
DETECTORS: dict[str, str] = {
    "nanodet-m-416-int8": "nanodet-m-416-int8",
    "nanodet-m-416-fp16": "nanodet-m-416-fp16",
    "ssdlite-mobilenet-v2": "ssdlite-mobilenet-v2-coco-fp16",
}
# detectors whose phones can join another detector's (edge/models/pair.py)
SECOND_DETECTORS: tuple[str, ...] = ("ssdlite-mobilenet-v2",)
# decoder (manifest) -> the class that reads that model's outputs
_DETECTOR_CLASSES: dict[str, type[NanoDetDetector] | type[SSDLiteDetector]] = {
    "nanodet": NanoDetDetector,
    "ssdlite": SSDLiteDetector,
}
FACE_DETECTORS: dict[str, str] = {
    "blazeface-full-range": "blazeface-full-range",
}
FACE_MESH = "face-mesh"
# HSE FaceRes, int8: the roster photo check, the 1:1 match and the changed-face advisory
FACE_EMBEDDERS: dict[str, str] = {
    "faceres": "faceres-int8",
}
CLASSIFIERS: dict[str, str] = {
    "efficientnet-lite0": "efficientnet-lite0",
}
POSE_ESTIMATORS: dict[str, str] = {
    "movenet-lightning": "movenet-lightning-fp16",
}
# int8 is as accurate as fp16 on the eval set and about twice as fast (docs/models.md).
DEFAULT_DETECTOR = "nanodet-m-416-int8"
DEFAULT_FACE_DETECTOR = "blazeface-full-range"
DEFAULT_FACE_EMBEDDER = "faceres"
DEFAULT_CLASSIFIER = "efficientnet-lite0"
DEFAULT_POSE_ESTIMATOR = "movenet-lightning"


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
    if entry.decoder not in _DETECTOR_CLASSES:
        raise ModelError(f"model {entry.name} has decoder {entry.decoder!r}, expected one of "
                         f"{', '.join(sorted(_DETECTOR_CLASSES))}")
    return _DETECTOR_CLASSES[entry.decoder](entry.path, name=name, sha256=entry.sha256,
                                            score_threshold=score_threshold,
                                            num_threads=num_threads)


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


def create_classifier(name: str = DEFAULT_CLASSIFIER, num_threads: int = 2,
                      manifest: str | Path | None = None) -> ImageClassifier:
    """The ImageNet crop classifier called ``name`` (a key of ``CLASSIFIERS``).

    Example: ``probs = create_classifier().classify(crop)``;
    ``probs[classifier.index("cellular telephone")]``.
    """
    if name not in CLASSIFIERS:
        raise _unknown("classifier", name, CLASSIFIERS)
    entry = get_entry(CLASSIFIERS[name], manifest)
    if entry.decoder != "imagenet":
        raise ModelError(f"model {entry.name} has decoder {entry.decoder!r}, expected 'imagenet'")
    if entry.labels_path is None:
        raise ModelError(f"model manifest records no labels for {entry.name}")
    return ImageClassifier(entry.path, entry.labels_path, name=name, sha256=entry.sha256,
                           labels_sha256=entry.labels_sha256, num_threads=num_threads)


def create_pose_estimator(name: str = DEFAULT_POSE_ESTIMATOR, num_threads: int = 2,
                          manifest: str | Path | None = None) -> PoseEstimator:
    """The single-person pose estimator called ``name`` (a key of ``POSE_ESTIMATORS``).

    Example: ``create_pose_estimator().estimate(person_crop).point("nose")`` -> ``(x, y, s)``.
    """
    if name not in POSE_ESTIMATORS:
        raise _unknown("pose estimator", name, POSE_ESTIMATORS)
    entry = get_entry(POSE_ESTIMATORS[name], manifest)
    if entry.decoder != "movenet":
        raise ModelError(f"model {entry.name} has decoder {entry.decoder!r}, expected 'movenet'")
    return PoseEstimator(entry.path, name=name, sha256=entry.sha256, num_threads=num_threads)


def create_face_embedder(name: str = DEFAULT_FACE_EMBEDDER, num_threads: int = 2,
                         manifest: str | Path | None = None) -> FaceEmbedder:
    """The face embedder called ``name`` (a key of ``FACE_EMBEDDERS``).

    Example: ``create_face_embedder().embed(image, face)`` -> a unit float32 vector, ``face``
    a BlazeFace ``Face`` (its keypoints align the face).
    """
    if name not in FACE_EMBEDDERS:
        raise _unknown("face embedder", name, FACE_EMBEDDERS)
    entry = get_entry(FACE_EMBEDDERS[name], manifest)
    if entry.decoder != "faceres":
        raise ModelError(f"model {entry.name} has decoder {entry.decoder!r}, expected 'faceres'")
    return FaceEmbedder(entry.path, name=name, sha256=entry.sha256, num_threads=num_threads)
