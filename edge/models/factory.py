"""The one place that turns a detection choice into detectors.

The node (``[detection]`` in its config), ``kuzet edge detect`` (its command-line options) and
the benchmarks all build their detectors here, so they run the same models the same way::

    detector, faces = create_detectors(cfg.detection)          # the node
    detector, faces = create_detectors(DetectionChoice(phones="off", score_threshold=0.4))

``phones``: ``"remote"`` (the default) wraps the object detector so that a ``remote`` is a
phone and a phone on a book's box is a book; ``"hands"`` adds the second look at each palm,
``"pose"`` at each wrist; ``"off"`` is the stock detector (``edge/models/phones.py``,
``docs/detection.md``). ``lookalike_veto`` adds the classifier's second opinion on each phone
(``edge/models/lookalikes.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from edge.models import registry
from edge.models.base import Detector, FaceDetector
from edge.models.nanodet import NanoDetDetector
from edge.models.operating_point import (
    DEFAULT_PHONE_THRESHOLD,
    DEFAULT_SECOND_DETECTOR,
    DEFAULT_SECOND_GATE,
    DEFAULT_SECOND_THRESHOLD,
)
from edge.models.phone_head import load_phone_head
from edge.models.phones import create_phone_detector
from edge.models.registry import DEFAULT_DETECTOR, DEFAULT_FACE_DETECTOR
from kuzet.errors import ModelError

PhoneMode = Literal["off", "remote", "hands", "pose"]
PHONE_MODES: tuple[PhoneMode, ...] = get_args(PhoneMode)


class Choice(Protocol):
    """What picks the detectors: the node's ``DetectionSection`` or a ``DetectionChoice``."""

    model: str
    phones: str
    score_threshold: float
    num_threads: int
    faces: bool
    face_model: str
    face_threshold: float
    lookalike_veto: bool
    second_looks_per_sweep: int | None
    second_detector: str | None
    phone_threshold: float | None
    second_threshold: float
    second_gate: float | None


@dataclass(frozen=True)
class DetectionChoice:
    """A detection choice outside a node config (command line, benchmarks); the defaults are
    the node's."""

    model: str = DEFAULT_DETECTOR
    phones: PhoneMode = "remote"
    score_threshold: float = 0.3
    num_threads: int = 2
    faces: bool = True
    face_model: str = DEFAULT_FACE_DETECTOR
    face_threshold: float = 0.5
    lookalike_veto: bool = False
    second_looks_per_sweep: int | None = 8
    second_detector: str | None = DEFAULT_SECOND_DETECTOR   # its phones join the first's
    phone_threshold: float | None = DEFAULT_PHONE_THRESHOLD  # the first detector's phones
    second_threshold: float = DEFAULT_SECOND_THRESHOLD       # the second detector's phones
    second_gate: float | None = DEFAULT_SECOND_GATE          # run it only where the first saw
    phone_head: bool = False      # rescore NanoDet's phones by phone_head.json (off: figures)


def create_object_detector(choice: Choice) -> Detector:
    """The object detector ``choice`` names, wrapped for phones unless ``phones="off"``; with
    ``phone_head`` (a ``DetectionChoice`` option; a choice without it has it off) NanoDet's
    phones are rescored by the phone head (``edge/models/phone_head.py``)."""
    if choice.phones not in PHONE_MODES:
        raise ValueError(f"phones must be one of {', '.join(PHONE_MODES)}, "
                         f"not {choice.phones!r}")
    if choice.phones == "off":
        detector = registry.create_detector(choice.model, choice.score_threshold,
                                            choice.num_threads)
    else:
        hands = {"hands": "palm", "pose": "pose"}.get(choice.phones, False)
        detector = create_phone_detector(choice.model, choice.score_threshold,
                                         choice.num_threads, hands=hands,
                                         veto=choice.lookalike_veto,
                                         max_second_looks=choice.second_looks_per_sweep,
                                         second_detector=choice.second_detector,
                                         phone_threshold=choice.phone_threshold,
                                         second_threshold=choice.second_threshold,
                                         second_gate=choice.second_gate)
    if getattr(choice, "phone_head", False):
        at = choice.score_threshold if choice.phones == "off" or choice.phone_threshold is None \
            else choice.phone_threshold
        with_phone_head(detector, at)
    return detector


def with_phone_head(detector: Detector, at: float) -> Detector:
    """``detector`` with the shipped phone head on its NanoDet (found through the wrappers'
    ``detector``), the head's threshold landing on ``at`` (where the wrappers keep NanoDet's
    phones); :class:`ModelError` when there is no NanoDet inside."""
    base: object = detector
    while not isinstance(base, NanoDetDetector) and hasattr(base, "detector"):
        base = base.detector
    if not isinstance(base, NanoDetDetector):
        raise ModelError(f"the phone head needs a NanoDet detector, not {detector.name}")
    base.use_phone_head(load_phone_head(), at)
    return detector


def create_face_detector(choice: Choice, *, with_yaw: bool = True,
                         num_threads: int | None = None) -> FaceDetector:
    """The face detector ``choice`` names (with head yaw unless ``with_yaw=False``)."""
    return registry.create_face_detector(
        choice.face_model, choice.face_threshold, with_yaw=with_yaw,
        num_threads=choice.num_threads if num_threads is None else num_threads)


def create_detectors(choice: Choice, *, detector: Detector | None = None,
                     face_detector: FaceDetector | None = None
                     ) -> tuple[Detector, FaceDetector | None]:
    """``(object detector, face detector)`` for ``choice``; the face detector is ``None`` when
    ``choice.faces`` is off. A detector passed in is used as it is (a benchmark that built
    its own, a test's scripted fake) and only the missing one is built."""
    detector = detector or create_object_detector(choice)
    if not choice.faces:
        return detector, None
    return detector, face_detector or create_face_detector(choice)


def create_blur_detector(choice: Choice) -> FaceDetector:
    """The face detector that blurs faces in evidence: no yaw, one thread, and an interpreter
    of its own (the detect thread owns the other one)."""
    return create_face_detector(choice, with_yaw=False, num_threads=1)
