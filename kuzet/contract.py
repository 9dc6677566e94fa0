"""The MQTT contract between edge nodes and the hub: topics and every message type.

One module, imported by both sides. Every message is JSON with ``schema`` (the contract
version), ``type`` and a unique ``id`` so that receivers can de-duplicate. See docs/mqtt.md.

Topics (``kuzet/v1/{building}/{room}/{node}/…``):

=============  =====  ========  ==================================================
suffix         QoS    retained  message
=============  =====  ========  ==================================================
``alert``      1      no        :class:`AlertMessage` (open / update / close)
``evidence``   1      no        :class:`EvidenceMessage` (JPEG or clip, base64)
``status``     1      yes       :class:`StatusMessage`; last will ``offline``
``heartbeat``  0      no        :class:`HeartbeatMessage`
``cmd``        1      no        :class:`CommandMessage` (hub → node)
``reply``      1      no        :class:`CommandReply` (node → hub)
=============  =====  ========  ==================================================
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    model_serializer,
    model_validator,
)

from kuzet.strict import StrictModel

SCHEMA = "kuzet/1"
TOPIC_ROOT = "kuzet/v1"
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024  # a clip of a few seconds is well under this

# A topic level: letters, digits, '-', '_' (no '/', '+', '#', no path tricks).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
Name = Annotated[str, Field(pattern=NAME_RE.pattern)]
MESSAGE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MessageId = Annotated[str, Field(pattern=MESSAGE_ID_RE.pattern)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Rule(StrEnum):
    """What clause 4.1 of the regulation forbids, as the node detects it."""

    SEAT_VACATED = "seat_vacated"          # left the seat / out of the camera's view
    EXTRA_PERSON = "extra_person"          # a second person at the seat (outside help)
    OUTSIDER_NEAR_SEAT = "outsider_near_seat"  # someone not seated standing by the seat
    NOTES = "notes"                        # a book or notes
    DEVICE = "device"                      # phone, tablet, laptop, calculator not allowed
    HEAD_TURNED = "head_turned"            # head turned to a neighbour (advisory)
    HEAD_DOWN_HANDS_LOW = "head_down_hands_low"  # head bowed, hands under the desk (advisory)
    ROOM_OVERCROWDED = "room_overcrowded"  # more people than roster + proctors
    FACE_CHANGED = "face_changed"          # the seat's face is not its check-in face (advisory)


ADVISORY_RULES = frozenset({Rule.HEAD_TURNED, Rule.HEAD_DOWN_HANDS_LOW, Rule.FACE_CHANGED})


class AlertEvent(StrEnum):
    OPEN = "open"
    UPDATE = "update"
    CLOSE = "close"


class Action(StrEnum):
    START_SESSION = "start_session"
    STOP_SESSION = "stop_session"
    SNAPSHOT = "snapshot"
    RELOAD_SEATMAP = "reload_seatmap"
    PRESENCE = "proctor_present"   # the proctor stands at ``seat``: quiet outside help there
    CHECK_IN = "check_in"          # the proctor checks ``seat``'s student in: a fresh crop of it


# A second person at the seat, or someone standing by it: what a proctor's own presence raises.
OUTSIDE_HELP_RULES = frozenset({Rule.EXTRA_PERSON, Rule.OUTSIDER_NEAR_SEAT})
PRESENCE_QUIET_S = (10, 600)   # how long a proctor_present may quiet a seat, seconds


def new_id() -> str:
    """A unique message id (32 hex characters)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Origin(StrictModel):
    """Which node a message comes from; equals the topic's levels (receivers check it)."""

    building: Name
    room: Name
    node: Name


class Message(StrictModel):
    """What every message on the wire has: the contract version, a unique id, when sent."""

    schema_: Literal["kuzet/1"] = Field(default=SCHEMA, alias="schema")
    id: MessageId = Field(default_factory=new_id)
    sent_at: AwareDatetime = Field(default_factory=utcnow)

    model_config = StrictModel.model_config | {"populate_by_name": True}


class EvidenceRef(StrictModel):
    evidence_id: MessageId
    kind: Literal["snapshot", "crop", "clip"]
    sha256: Sha256
    size: Annotated[int, Field(ge=0)]


Base64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]+={0,2}$", max_length=4096)]


class ChainLink(StrictModel):
    """Where a signed record stands in its node's chain (``kuzet.signatures``): the chain's
    ``id`` (new when the node's chain starts), the record's number in it, and ``prev``, the
    sha256 of the previous record's signed body (None for the chain's first record)."""

    id: Annotated[str, Field(pattern=r"^[0-9a-f]{16,64}$")]
    seq: Annotated[int, Field(ge=1)]
    prev: Sha256 | None = None


class Signature(StrictModel):
    """The node's signature of a record's signed body (``kuzet.signatures.signed_body``):
    ``alg`` ES256 (ECDSA P-256 with SHA-256, DER) or Ed25519, ``value`` base64; the signer
    is ``cert`` (the node's certificate from the building's CA, base64 DER) or, for a node
    without one, ``key`` (its own public key, base64 SubjectPublicKeyInfo DER)."""

    alg: Literal["ES256", "Ed25519"]
    value: Annotated[Base64, Field(max_length=200)]
    cert: Base64 | None = None
    key: Base64 | None = None

    @model_validator(mode="after")
    def _one_signer(self) -> Signature:
        if (self.cert is None) == (self.key is None):
            raise ValueError("a signature names its signer: either 'cert' or 'key'")
        return self


class AlertMessage(Message):
    """One incident (``alert_id``) is opened once, updated, and closed once."""

    type: Literal["alert"] = "alert"
    origin: Origin
    alert_id: MessageId
    event: AlertEvent
    rule: Rule
    advisory: bool
    seat: Name | None = None          # None for room-level rules
    session_id: Annotated[str, Field(max_length=64)] | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    duration_s: Annotated[float, Field(ge=0)]
    score: Annotated[float, Field(ge=0, le=1)]
    detail: dict[str, Any] = Field(default_factory=dict)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=16)
    chain: ChainLink | None = None    # a signed record: its place in the node's chain
    sig: Signature | None = None      # and the node's signature (None: an unsigned node)


class Seated(StrictModel):
    """What the node saw of the room when it cut a check-in crop: whether the check-in's seat
    is taken (None: not looked at in the last ``CHECK_IN_SEEN_S``, or no exam runs on the node,
    which looks at seats only during one), how many seats of its map it saw taken and how many
    it looked at in that time (``taken`` None: no exam runs)."""

    seat: bool | None = None
    taken: Annotated[int, Field(ge=0, le=500)] | None = None
    looked: Annotated[int, Field(ge=0, le=500)] = 0


CHECK_IN_SEEN_S = 30.0   # a seat's last look counts for ``Seated`` this long


class EvidenceMessage(Message):
    """One evidence file; ``data`` is base64; ``sha256`` is of the decoded bytes. A check-in
    crop (kind ``check-in``, under the ``check_in`` command's id) also says what the node saw
    seated (``seated``)."""

    type: Literal["evidence"] = "evidence"
    origin: Origin
    alert_id: MessageId
    evidence_id: MessageId
    kind: Literal["snapshot", "crop", "clip", "check-in"]
    content_type: Literal["image/jpeg", "video/x-msvideo"]
    sha256: Sha256
    size: Annotated[int, Field(ge=0)]
    captured_at: AwareDatetime
    data: str
    chain: ChainLink | None = None    # signed over everything but ``data`` (``sha256`` says it)
    sig: Signature | None = None
    seated: Seated | None = None      # a check-in crop's: sent only then

    @model_validator(mode="after")
    def _seated_for_check_in(self) -> EvidenceMessage:
        if self.seated is not None and self.kind != "check-in":
            raise ValueError("'seated' comes only with a check-in crop")
        return self

    @model_serializer(mode="wrap")
    def _without_seated_null(self, handler: SerializerFunctionWrapHandler) -> dict:
        """``seated`` only when set: every other evidence keeps its older wire form."""
        data = handler(self)
        if data.get("seated", 0) is None:
            del data["seated"]
        return data

    def decoded(self) -> bytes:
        """The file's bytes, checked against ``size`` and ``sha256`` (ValueError if not)."""
        try:
            raw = binascii.a2b_base64(self.data, strict_mode=True)
        except binascii.Error as exc:
            raise ValueError(f"evidence {self.evidence_id}: data is not base64 ({exc})") from None
        if len(raw) != self.size or hashlib.sha256(raw).hexdigest() != self.sha256:
            raise ValueError(f"evidence {self.evidence_id}: size or sha256 does not match")
        return raw


class SourceState(StrictModel):
    state: Literal["opening", "ok", "failed", "frozen", "dark", "ended"]
    detail: Annotated[str, Field(max_length=500)] = ""
    since: AwareDatetime


class StatusMessage(Message):
    """Retained. ``state`` is ``online``, ``degraded`` or ``offline`` (the last will)."""

    type: Literal["status"] = "status"
    origin: Origin
    state: Literal["online", "degraded", "offline"]
    since: AwareDatetime
    reasons: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list)
    source: SourceState | None = None
    session_id: Annotated[str, Field(max_length=64)] | None = None
    version: Annotated[str, Field(max_length=64)] = ""


# What a node sheds to keep its seat revisit bound, in this order (edge/budget.py).
SHED_STEPS = ("second_looks", "faces_unchanged")
ShedStep = Literal["second_looks", "faces_unchanged"]


class HeartbeatMessage(Message):
    type: Literal["heartbeat"] = "heartbeat"
    origin: Origin
    fps: Annotated[float, Field(ge=0)]
    inference_ms: Annotated[float, Field(ge=0)]
    worst_seat_revisit_s: Annotated[float, Field(ge=0)] | None
    cpu_temp_c: float | None
    disk_free_mb: Annotated[float, Field(ge=0)]
    outbox_depth: Annotated[int, Field(ge=0)]
    software_version: Annotated[str, Field(max_length=64)]
    model_versions: dict[str, Annotated[str, Field(max_length=128)]]
    uptime_s: Annotated[float, Field(ge=0)]
    # The revisit budget (edge/budget.py): the latest sweep was over the node's 2 s bound,
    # and the optional work it sheds to keep it, one step at a time (``SHED_STEPS``).
    # Sent only when not the default (within the bound, nothing shed), so a node that keeps
    # its bound sends the wire form an older hub accepts.
    over_budget: bool = False
    shed_level: Annotated[int, Field(ge=0, le=2)] = 0
    shed: list[ShedStep] = []

    @model_serializer(mode="wrap")
    def _without_budget_defaults(self, handler: SerializerFunctionWrapHandler) -> dict:
        data = handler(self)
        for key in ("over_budget", "shed_level", "shed"):
            if not data.get(key, True):
                del data[key]
        return data

    @model_validator(mode="after")
    def _shed_matches_level(self) -> HeartbeatMessage:
        if list(self.shed) != list(SHED_STEPS[: self.shed_level]):
            raise ValueError(f"shed {self.shed} does not match shed_level {self.shed_level} "
                             f"(the steps come in the order {', '.join(SHED_STEPS)})")
        return self


class StartSession(StrictModel):
    session_id: Annotated[str, Field(min_length=1, max_length=64)]
    allowed_aids: list[Literal["calculator", "phone", "tablet", "laptop", "book", "notes"]] = []
    roster_size: Annotated[int, Field(ge=0, le=1000)] | None = None
    proctors: Annotated[int, Field(ge=0, le=50)] = 1
    # the exam opted in to the changed-face check (face_changed): the node keeps each seat's
    # check-in face embedding and compares the seat's face with it now and then. Sent only
    # when true, so a start without it keeps the wire form an older node accepts.
    face_check: bool = False

    @model_serializer(mode="wrap")
    def _without_face_check_off(self, handler: SerializerFunctionWrapHandler) -> dict:
        data = handler(self)
        if not data.get("face_check", True):
            del data["face_check"]
        return data


Point = tuple[float, float]


class SeatSpec(StrictModel):
    """One seat of a room's seat map: its polygon in the map's ``frame_size`` pixels."""

    id: Name
    polygon: Annotated[list[Point], Field(min_length=3, max_length=64)]
    student: Annotated[str, Field(max_length=200)] | None = None


class SeatMapSpec(StrictModel):
    """A room's seat map, as the technician draws it, the hub stores it and pushes it to the
    node (``reload_seatmap``), and the node reads it from its file::

        {"room": "a101", "frame_size": [768, 576],
         "seats": [{"id": "r1s1", "polygon": [[10, 20], [120, 20], [120, 140]]}, ...]}

    ``frame_size`` is the image size the polygons were drawn on; the node scales them to the
    frames it actually gets (``edge.seats.SeatMap``)."""

    room: Name | None = None
    frame_size: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]]
    seats: Annotated[list[SeatSpec], Field(max_length=500)]

    @model_validator(mode="after")
    def _unique_ids(self) -> SeatMapSpec:
        ids = [s.id for s in self.seats]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate seat ids: {', '.join(dupes)}")
        return self


class CommandMessage(Message):
    type: Literal["command"] = "command"
    action: Action
    session: StartSession | None = None          # for start_session
    seatmap: SeatMapSpec | None = None           # for reload_seatmap (else re-read the file)
    # for stop_session: the session to stop. The hub always names it; a node refuses a stop
    # without one (an older hub's) and a stop of another session than the one it runs.
    session_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    # for proctor_present: the seat the proctor stands at, and for how long its outside-help
    # rules (OUTSIDE_HELP_RULES) raise nothing; for check_in: the seat to cut a crop of
    seat: Name | None = None
    quiet_s: Annotated[float, Field(ge=PRESENCE_QUIET_S[0], le=PRESENCE_QUIET_S[1])] | None = None

    @model_validator(mode="after")
    def _session_for_start(self) -> CommandMessage:
        if self.action == Action.START_SESSION and self.session is None:
            raise ValueError("start_session needs a 'session'")
        if self.action == Action.PRESENCE and (self.seat is None or self.quiet_s is None):
            raise ValueError("proctor_present needs a 'seat' and 'quiet_s'")
        if self.action == Action.CHECK_IN and (self.seat is None or self.quiet_s is not None):
            raise ValueError("check_in needs a 'seat' (and no 'quiet_s')")
        return self

    @model_serializer(mode="wrap")
    def _without_presence_nulls(self, handler: SerializerFunctionWrapHandler) -> dict:
        """The presence fields only when set: every other command keeps the wire form it had
        before them, which a node on the older contract still accepts."""
        data = handler(self)
        for key in _PRESENCE_FIELDS:
            if data.get(key, 0) is None:
                del data[key]
        return data


_PRESENCE_FIELDS = ("seat", "quiet_s")


class CommandReply(Message):
    type: Literal["reply"] = "reply"
    origin: Origin
    command_id: MessageId
    ok: bool
    detail: Annotated[str, Field(max_length=2000)] = ""


AnyMessage = Annotated[
    AlertMessage | EvidenceMessage | StatusMessage | HeartbeatMessage | CommandMessage
    | CommandReply,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter = TypeAdapter(AnyMessage)

TOPIC_KINDS = {
    "alert": AlertMessage,
    "evidence": EvidenceMessage,
    "status": StatusMessage,
    "heartbeat": HeartbeatMessage,
    "cmd": CommandMessage,
    "reply": CommandReply,
}


class ContractError(ValueError):
    """A message that does not follow the contract; the text says what and where."""


def topic(origin: Origin, kind: str) -> str:
    if kind not in TOPIC_KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"{TOPIC_ROOT}/{origin.building}/{origin.room}/{origin.node}/{kind}"


def parse_topic(name: str) -> tuple[Origin, str]:
    """``kuzet/v1/b/r/n/kind`` → (Origin, kind); ContractError for anything else."""
    building, room, node, kind = _topic_levels(name)
    return Origin(building=building, room=room, node=node), kind


@functools.lru_cache(maxsize=4096)
def _topic_levels(name: str) -> tuple[str, str, str, str]:
    """``(building, room, node, kind)`` of a valid topic (cached: a hub sees few topics)."""
    parts = name.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != TOPIC_ROOT or parts[5] not in TOPIC_KINDS:
        raise ContractError(f"topic {name!r} is not kuzet/v1/<building>/<room>/<node>/<kind>")
    if not all(NAME_RE.match(level) for level in parts[2:5]):
        raise ContractError(f"topic {name!r}: bad building/room/node name")
    return parts[2], parts[3], parts[4], parts[5]


# The campus broker (docs/campus.md): each building's bridge remaps ``kuzet/v1/<building>/…``
# to ``campus/v1/<building>/…`` and sends only these kinds (never evidence, commands, replies).
CAMPUS_ROOT = "campus/v1"
CAMPUS_KINDS = ("alert", "status")


def campus_topic(origin: Origin, kind: str) -> str:
    """Where a building's bridge publishes a node's ``kind`` on the campus broker."""
    if kind not in CAMPUS_KINDS:
        raise ValueError(f"kind {kind!r} does not cross to the campus (only "
                         f"{', '.join(CAMPUS_KINDS)})")
    return f"{CAMPUS_ROOT}/{origin.building}/{origin.room}/{origin.node}/{kind}"


def parse_campus_topic(name: str) -> tuple[Origin, str]:
    """``campus/v1/b/r/n/kind`` → (Origin, kind) for the kinds that cross to the campus
    (alert, status); ContractError for anything else."""
    parts = name.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != CAMPUS_ROOT:
        raise ContractError(f"topic {name!r} is not {CAMPUS_ROOT}/<building>/<room>/<node>/"
                            "<kind>")
    if parts[5] not in CAMPUS_KINDS:
        raise ContractError(f"topic {name!r}: a {parts[5]!r} does not cross to the campus "
                            f"(only {', '.join(CAMPUS_KINDS)})")
    building, room, node, kind = _topic_levels(f"{TOPIC_ROOT}/{'/'.join(parts[2:])}")
    return Origin(building=building, room=room, node=node), kind


def encode(message: Message) -> bytes:
    return message.model_dump_json(by_alias=True, exclude_none=False).encode()


def decode(payload: bytes, expected_topic: str | None = None) -> Message:
    """Validate a payload. With ``expected_topic``, also check that the message type fits the
    topic and that its origin equals the topic's levels (a node cannot speak for another)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        msg = _ADAPTER.validate_json(payload)   # pydantic reads the bytes as UTF-8 itself
    except ValidationError as exc:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise ContractError(f"payload is not UTF-8 (byte {bad.start})") from None
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(message)"
        raise ContractError(f"invalid message at {where}: {first['msg']}") from None
    if expected_topic is not None:
        check_topic(msg, expected_topic)
    return msg


def check_topic(msg: Message, expected_topic: str) -> None:
    """ContractError unless the message's type fits the topic's kind and its origin equals
    the topic's levels (a node cannot speak for another)."""
    building, room, node, kind = _topic_levels(expected_topic)
    if not isinstance(msg, TOPIC_KINDS[kind]):
        raise ContractError(f"a {msg.type} message on a {kind} topic")
    o = getattr(msg, "origin", None)
    if o is not None and (o.building, o.room, o.node) != (building, room, node):
        raise ContractError(f"origin {o} does not match topic {expected_topic}")


def command_id_of(payload: bytes) -> str | None:
    """The ``id`` of a payload that claims to be a command (a JSON object with
    ``"type": "command"`` and a well-formed ``id``), whether or not it validates; else None.
    Lets a node answer a command it must refuse."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("type") != "command":
        return None
    value = data.get("id")
    return value if isinstance(value, str) and MESSAGE_ID_RE.match(value) else None
