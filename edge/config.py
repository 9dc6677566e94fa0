"""The node's config file (TOML), validated before anything starts.

An unknown key or a bad value is a ConfigError that names the file and the key. Relative
paths are resolved against the config file's folder. A secret (the MQTT password) can come
from a file, e.g. one that systemd puts in ``$CREDENTIALS_DIRECTORY``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from edge.capture.config import FolderConfig, OpenCvConfig, SourceConfig
from edge.models.operating_point import (
    DEFAULT_PHONE_THRESHOLD,
    DEFAULT_SECOND_DETECTOR,
    DEFAULT_SECOND_GATE,
    DEFAULT_SECOND_THRESHOLD,
)
from edge.rules import DEFAULT_PARAMS
from kuzet.broker_access import BrokerAccess
from kuzet.config_files import read_toml, validate
from kuzet.contract import NAME_RE, Rule
from kuzet.errors import ConfigError
from kuzet.strict import StrictModel

if TYPE_CHECKING:
    from edge.face_check import FaceCheckParams

Name = Annotated[str, Field(pattern=NAME_RE.pattern)]
Aid = Literal["calculator", "phone", "tablet", "laptop", "book", "notes"]


class NodeSection(StrictModel):
    building: Name
    room: Name
    name: Name
    data_dir: Path = Path("/var/lib/kuzet")
    # how long the outbox's journal lists a message after the node accepted it (days)
    journal_days: Annotated[float, Field(gt=0, le=3650)] = 30


class BrokerSection(BrokerAccess):
    client_id: str = ""


class DetectionSection(StrictModel):
    model: str = "nanodet-m-416-int8"
    face_model: str = "blazeface-full-range"
    faces: bool = True
    # phones: "remote" maps a desk's "remote" to a phone and settles phone-vs-book ties;
    # "hands" adds a second look at each palm found, "pose" at each wrist a pose model
    # finds; "off" is the stock detector (docs/detection.md)
    phones: Literal["off", "remote", "hands", "pose"] = "remote"
    # drop the phones an ImageNet classifier takes for a wallet, camera, lighter, case
    lookalike_veto: bool = False
    # at most this many second looks (hands) per sweep of the room: the revisit bound
    second_looks_per_sweep: Annotated[int, Field(ge=0, le=1000)] = 8
    # a second detector whose phones join the model's (needs phones other than "off"; set it
    # to "" to run the model alone); each detector's phones have their own threshold, chosen
    # on phones-dev's tune part (edge/models/operating_point.py, docs/detection.md)
    second_detector: str | None = DEFAULT_SECOND_DETECTOR
    phone_threshold: Annotated[float, Field(gt=0, le=1)] = DEFAULT_PHONE_THRESHOLD
    second_threshold: Annotated[float, Field(gt=0, le=1)] = DEFAULT_SECOND_THRESHOLD
    # the second detector runs only on looks where the model gave a phone-like class this
    # score somewhere (unset: on every look)
    second_gate: Annotated[float, Field(ge=0, le=1)] | None = DEFAULT_SECOND_GATE
    score_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.3
    face_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    num_threads: Annotated[int, Field(ge=1, le=8)] = 2
    crop_margin: Annotated[float, Field(ge=0, le=2)] = 0.25
    # a seat whose crop in the detection stream is smaller than this (px) is cut from the
    # camera's main stream when it has one; unset: the detector's input size; 0: never
    seat_from_main_below_px: Annotated[int, Field(ge=0, le=8192)] | None = None
    # the posture cue (head bowed, hands low: head_down_hands_low) from a pose model run on
    # each seat's pixels. Off by default: no real footage at hand shows the behaviour, so the
    # cue is unmeasured on it; turn it on per room (it adds the pose model to every seat look)
    posture: bool = False
    # a seat whose crop has not changed since its last look is not sent to the detector
    # (edge/change.py), unless something was found there before; every seat is looked at
    # again within max_skip_s whatever happens (at most CHECK_IN_SEEN_S: a check-in's
    # headcount counts a seat's last look that long)
    skip_unchanged: bool = True
    max_skip_s: Annotated[float, Field(gt=0, le=30)] = 10.0


class RuleSection(StrictModel):
    min_score: Annotated[float, Field(ge=0, le=1)] | None = None
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    window: Annotated[int, Field(ge=1, le=50)] | None = None
    min_duration_s: Annotated[float, Field(ge=0)] | None = None
    clear_after_s: Annotated[float, Field(ge=0)] | None = None
    cooldown_s: Annotated[float, Field(ge=0)] | None = None
    update_every_s: Annotated[float, Field(gt=0)] | None = None


class RulesSection(StrictModel):
    yaw_limit_deg: Annotated[float, Field(gt=0, le=90)] = 35.0
    taken_after_s: Annotated[float, Field(ge=0)] = 10.0
    seat_vacated: RuleSection = RuleSection()
    extra_person: RuleSection = RuleSection()
    outsider_near_seat: RuleSection = RuleSection()
    notes: RuleSection = RuleSection()
    device: RuleSection = RuleSection()
    head_turned: RuleSection = RuleSection()
    head_down_hands_low: RuleSection = RuleSection()
    room_overcrowded: RuleSection = RuleSection()
    face_changed: RuleSection = RuleSection()

    def params(self):
        out = {}
        for rule in Rule:
            override = getattr(self, rule.value).model_dump(exclude_none=True)
            out[rule] = DEFAULT_PARAMS[rule].__class__(
                **{**DEFAULT_PARAMS[rule].__dict__, **override})
        return out


class FaceCheckSection(StrictModel):
    """The changed-face check (``edge.face_check``), in exams that opt in: how often a seat's
    face is compared with its check-in face, and which faces are compared."""

    every_s: Annotated[float, Field(ge=2, le=600)] = 15.0
    min_face_px: Annotated[float, Field(ge=16, le=1000)] = 40.0
    max_yaw_deg: Annotated[float, Field(gt=0, le=90)] = 30.0

    def params(self) -> FaceCheckParams:
        from edge.face_check import FaceCheckParams  # numpy: only a node that runs uses it

        return FaceCheckParams(every_s=self.every_s, min_face_px=self.min_face_px,
                               max_yaw_deg=self.max_yaw_deg)


class ExamSection(StrictModel):
    """An exam session that starts with the node (standalone use, the demo). Normally the
    hub starts and stops sessions over the command topic."""

    session_id: Annotated[str, Field(min_length=1, max_length=64)]
    allowed_aids: list[Aid] = []
    roster_size: Annotated[int, Field(ge=0)] | None = None
    proctors: Annotated[int, Field(ge=0)] = 1


class EvidenceSection(StrictModel):
    max_mb: Annotated[float, Field(gt=0)] = 2048
    min_free_mb: Annotated[float, Field(ge=0)] = 500
    clip_before_s: Annotated[float, Field(ge=0, le=60)] = 5
    clip_after_s: Annotated[float, Field(ge=0, le=60)] = 5
    clip_fps: Annotated[float, Field(gt=0, le=30)] = 4
    jpeg_quality: Annotated[int, Field(ge=30, le=100)] = 85
    ballast_mb: Annotated[float, Field(ge=0, le=1024)] = 16   # reserve freed when the disk fills
    blur_other_faces: bool = True    # faces other than the flagged seat's student are blurred
    retention_days: Annotated[float, Field(gt=0)] = 30   # clause 4.3: kept one month
    max_width: Annotated[int, Field(ge=160)] = 1280


class GpioSection(StrictModel):
    enabled: bool = False
    led_pin: int | str = 17
    button_pin: int | str | None = 27


class NodeConfig(StrictModel):
    node: NodeSection
    source: SourceConfig
    seat_map: Path
    broker: BrokerSection = BrokerSection()
    detection: DetectionSection = DetectionSection()
    rules: RulesSection = RulesSection()
    exam: ExamSection | None = None
    evidence: EvidenceSection = EvidenceSection()
    gpio: GpioSection = GpioSection()
    face_check: FaceCheckSection = FaceCheckSection()
    heartbeat_s: Annotated[float, Field(gt=0, le=3600)] = 10.0

    @property
    def origin(self):
        from kuzet.contract import Origin

        return Origin(building=self.node.building, room=self.node.room, node=self.node.name)


def _resolve(data: dict, base: Path) -> dict:
    """Make relative paths relative to the config file's folder."""
    def fix(section: dict, key: str) -> None:
        v = section.get(key)
        if isinstance(v, str) and v and not os.path.isabs(v) and "://" not in v:
            section[key] = str(base / v)

    fix(data, "seat_map")
    for key in ("data_dir",):
        fix(data.get("node", {}), key)
    for key in ("password_file", "ca_file", "cert_file", "key_file"):
        fix(data.get("broker", {}), key)
    src = data.get("source", {})
    if src.get("type") == "folder":
        fix(src, "path")
    elif src.get("type") == "opencv" and isinstance(src.get("uri"), str) \
            and not src["uri"].isdigit() and not src["uri"].startswith("/dev/"):
        fix(src, "uri")
    return data


def load_config(path: str | Path) -> NodeConfig:
    path = Path(path)
    return parse_config(_resolve(read_toml(path), path.resolve().parent), str(path))


def parse_config(data: dict, where: str = "config") -> NodeConfig:
    cfg = validate(NodeConfig, data, where)
    _check_models(cfg, where)
    return cfg


def _check_models(cfg: NodeConfig, where: str) -> None:
    from edge.models.registry import DETECTORS, FACE_DETECTORS, SECOND_DETECTORS

    if cfg.detection.model not in DETECTORS:
        raise ConfigError(f"{where}: detection.model: unknown model {cfg.detection.model!r}; "
                          f"valid: {', '.join(sorted(DETECTORS))}")
    if cfg.detection.face_model not in FACE_DETECTORS:
        valid = ", ".join(sorted(FACE_DETECTORS))
        raise ConfigError(f"{where}: detection.face_model: unknown model "
                          f"{cfg.detection.face_model!r}; valid: {valid}")
    second = cfg.detection.second_detector
    if second and second not in SECOND_DETECTORS:
        raise ConfigError(f"{where}: detection.second_detector: unknown model {second!r}; "
                          f"valid: {', '.join(sorted(SECOND_DETECTORS))} (or \"\" for none)")
    if second and cfg.detection.phones == "off" and \
            "second_detector" in cfg.detection.model_fields_set:
        raise ConfigError(f"{where}: detection.second_detector needs phones other than 'off'")


__all__ = ["NodeConfig", "load_config", "parse_config", "FolderConfig", "OpenCvConfig"]
