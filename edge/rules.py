"""The rules core: what clause 4.1 of the regulation forbids, confirmed over time.

Pure: looks at seats (what the detector saw there, and when) and the time go in; alert events
go out. It knows nothing of cameras, models, MQTT or files, and never reads a clock itself.

Confirmation follows Frigate's idea: each look gives a rule a score (0 when the thing is not
seen); the rule's condition holds while the *median* of the last ``window`` scores reaches
``threshold``. An incident opens once the condition has held for ``min_duration_s``, is updated
every ``update_every_s`` while it holds, and closes once it has not held for ``clear_after_s``
(inertia). After closing, the same seat and rule stay quiet for ``cooldown_s``.

The changed face (``face_changed``, advisory, only in a session that opted in) is fed only by
the looks that compared the seat's face with its check-in face (``SeatLook.face_sim``, from
``edge.face_check``, every ``[face_check] every_s`` per seat, not every look): its score is how
unlike the two are, ``1 - similarity``, and it holds while the median of the last comparisons
reaches ``1 - face_threshold``. Its ``clear_after_s`` is longer than the time between two
comparisons, so the quiet looks between them close nothing.
"""

from __future__ import annotations

import statistics
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from edge.models.face_operating_point import FACE_CHANGED_THRESHOLD
from kuzet.contract import ADVISORY_RULES, AlertEvent, Rule

# Cosine similarity to the seat's check-in face below which the face counts as someone else
# (the changed-face rule's default, measured on the face set: docs/detection.md).
FACE_THRESHOLD = FACE_CHANGED_THRESHOLD

# Detector labels that the regulation cares about, and the aid name that allows each.
DEVICE_LABELS = {"cell phone": "phone", "laptop": "laptop", "tablet": "tablet",
                 "calculator": "calculator"}
NOTES_LABELS = {"book": "book", "notes": "notes"}


@dataclass(frozen=True)
class SeatLook:
    """What one look at one seat found. Scores are detector confidences 0..1."""

    seat: str
    t: float
    persons: tuple[float, ...] = ()           # people centred in the seat
    outsiders: tuple[float, ...] = ()         # people by the seat but centred in no seat
    objects: tuple[tuple[str, float], ...] = ()  # (label, score) centred in the seat
    yaw: float | None = None                  # head yaw of the seated student, degrees
    posture: float | None = None              # edge.posture score: 1.0 bowed, hands low
    face_sim: float | None = None             # the seat's face against its check-in face
    #                                           (cosine); None: not compared at this look


@dataclass(frozen=True)
class RoomLook:
    t: float
    persons: int


@dataclass(frozen=True)
class RuleParams:
    min_score: float = 0.35       # a detection below this counts as not seen
    threshold: float = 0.5        # the median of recent scores must reach this
    window: int = 3               # how many recent looks the median spans
    min_duration_s: float = 3.0   # how long the condition must hold before an alert opens
    clear_after_s: float = 10.0   # how long it must be gone before the alert closes
    cooldown_s: float = 30.0      # quiet time for the same seat and rule after a close
    update_every_s: float = 15.0  # how often an open alert is updated while it holds


DEFAULT_PARAMS: dict[Rule, RuleParams] = {
    Rule.SEAT_VACATED: RuleParams(min_duration_s=30.0, clear_after_s=5.0, window=5),
    Rule.EXTRA_PERSON: RuleParams(min_duration_s=5.0),
    Rule.OUTSIDER_NEAR_SEAT: RuleParams(min_duration_s=10.0),
    Rule.NOTES: RuleParams(min_score=0.4, min_duration_s=3.0),
    Rule.DEVICE: RuleParams(min_score=0.35, min_duration_s=2.0),
    Rule.HEAD_TURNED: RuleParams(min_duration_s=5.0, clear_after_s=3.0),
    # Students look down at their paper all the time: only a long spell with both hands out of
    # sight below the desk counts, and the median of 5 looks rides over a missed keypoint.
    Rule.HEAD_DOWN_HANDS_LOW: RuleParams(min_duration_s=20.0, clear_after_s=5.0, window=5),
    Rule.ROOM_OVERCROWDED: RuleParams(min_duration_s=10.0),
    # Fed by one comparison every ~15 s per seat: the median of 3 (two unlike faces of three)
    # held for 15 s more opens it; the times between comparisons must not close it.
    Rule.FACE_CHANGED: RuleParams(min_score=0.0, threshold=1.0 - FACE_THRESHOLD, window=3,
                                  min_duration_s=15.0, clear_after_s=60.0, cooldown_s=120.0,
                                  update_every_s=60.0),
}


@dataclass(frozen=True)
class Policy:
    """What the running exam session allows; set when the session starts."""

    session_id: str
    allowed_aids: frozenset[str] = frozenset()
    roster_size: int | None = None
    proctors: int = 1
    yaw_limit_deg: float = 35.0
    taken_after_s: float = 10.0   # a seat counts as taken once a student sat there this long
    face_check: bool = False      # the exam opted in to the changed-face rule


@dataclass(frozen=True)
class RuleEvent:
    """An alert opened, updated or closed. Times are the caller's monotonic seconds."""

    alert_id: str
    event: AlertEvent
    rule: Rule
    seat: str | None
    started: float
    t: float
    score: float
    detail: dict = field(default_factory=dict)

    @property
    def advisory(self) -> bool:
        return self.rule in ADVISORY_RULES

    @property
    def duration_s(self) -> float:
        return max(0.0, self.t - self.started)


@dataclass
class _Track:
    params: RuleParams
    scores: deque = field(default_factory=deque)
    since: float | None = None        # when the condition started to hold (continuously)
    last_true: float | None = None
    alert_id: str | None = None
    started: float = 0.0
    peak: float = 0.0
    last_update: float = 0.0
    quiet_until: float = float("-inf")
    detail: dict = field(default_factory=dict)


class RulesEngine:
    """Feed it looks (``observe_seat``, ``observe_room``) and the time (``tick``)."""

    def __init__(self, params: dict[Rule, RuleParams] | None = None,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self.params = {**DEFAULT_PARAMS, **(params or {})}
        self._new_id = new_id
        self._tracks: dict[tuple[str | None, Rule], _Track] = {}
        self._taken: dict[str, float] = {}     # seat -> seconds a student has sat there
        self._last_look: dict[str, tuple[float, bool]] = {}
        self._quiet: dict[tuple[str, Rule], float] = {}   # (seat, rule) -> quiet until t
        self._found: set[str] = set()          # seats whose last look scored some rule
        self.policy: Policy | None = None

    # -- exam session --------------------------------------------------------------------
    def start_session(self, policy: Policy, t: float) -> list[RuleEvent]:
        events = self.stop_session(t) if self.policy else []
        self.policy = policy
        return events

    def stop_session(self, t: float) -> list[RuleEvent]:
        """End of the exam: every open alert closes, all state is forgotten."""
        events = [self._close(key, tr, t) for key, tr in self._tracks.items() if tr.alert_id]
        self._tracks.clear()
        self._taken.clear()
        self._last_look.clear()
        self._quiet.clear()
        self._found.clear()
        self.policy = None
        return events

    def quiet(self, seat: str, rules: Iterable[Rule], until: float, t: float,
              why: str = "proctor_present") -> list[RuleEvent]:
        """Until ``until``, ``rules`` at ``seat`` raise nothing (the proctor stands there: they
        are the second person). An alert of theirs open there now closes, its detail saying
        ``closed_by: why``; looks in the quiet time count for nothing, so after it a rule
        must hold its ``min_duration_s`` afresh. Refused (ValueError) outside a session."""
        if self.policy is None:
            raise ValueError("no exam session is running")
        events = []
        for rule in rules:
            key = (seat, rule)
            self._quiet[key] = max(until, self._quiet.get(key, until))
            tr = self._tracks.get(key)
            if tr is None:
                continue
            if tr.alert_id:
                tr.detail = {**tr.detail, "closed_by": why}
                events.append(self._close(key, tr, t))
            tr.scores.clear()
            tr.since = None
        return events

    def quiet_ends(self, seat: str, rule: Rule) -> float | None:
        """Until when ``rule`` at ``seat`` is quiet (``quiet``), if it is ever."""
        return self._quiet.get((seat, rule))

    @property
    def open_alerts(self) -> dict[tuple[str | None, Rule], str]:
        return {k: tr.alert_id for k, tr in self._tracks.items() if tr.alert_id}

    def seated(self, t: float, within: float) -> dict[str, bool]:
        """Each seat looked at in the last ``within`` seconds before ``t``: whether a person
        sat there at its last look (a check-in's headcount). Empty outside a session: seats
        are looked at only during one."""
        return {seat: present for seat, (at, present) in self._last_look.items()
                if t - at <= within}

    def watched_seats(self) -> frozenset[str]:
        """The seats to look at whatever their crop does (``edge.change.SkipGate``): something
        was found there at the last look (any rule scored), a rule's recent scores hold
        something, a rule is mid-duration, or an incident is open."""
        seats = set(self._found)
        for (seat, _rule), tr in self._tracks.items():
            if seat is not None and (tr.alert_id or tr.since is not None or any(tr.scores)):
                seats.add(seat)
        return frozenset(seats)

    # -- looks -----------------------------------------------------------------------------
    def observe_seat(self, look: SeatLook) -> list[RuleEvent]:
        if self.policy is None:
            return []
        events: list[RuleEvent] = []
        found = False
        for rule, score, detail in self._seat_scores(look):
            found = found or score > 0.0
            if look.t < self._quiet.get((look.seat, rule), float("-inf")):
                continue                        # quiet: the proctor stands there
            events += self._feed((look.seat, rule), rule, score, look.t, detail)
        if found:
            self._found.add(look.seat)
        else:
            self._found.discard(look.seat)
        return events

    def observe_room(self, look: RoomLook) -> list[RuleEvent]:
        p = self.policy
        if p is None or p.roster_size is None:
            return []
        limit = p.roster_size + p.proctors
        score = 1.0 if look.persons > limit else 0.0
        return self._feed((None, Rule.ROOM_OVERCROWDED), Rule.ROOM_OVERCROWDED, score, look.t,
                          {"persons": look.persons, "limit": limit})

    def tick(self, t: float) -> list[RuleEvent]:
        """Close alerts whose condition has not held for ``clear_after_s``."""
        events = []
        for key, tr in self._tracks.items():
            if tr.alert_id and tr.last_true is not None \
                    and t - tr.last_true >= tr.params.clear_after_s:
                events.append(self._close(key, tr, t))
        return events

    # -- internals -------------------------------------------------------------------------
    def _seat_scores(self, look: SeatLook) -> Iterable[tuple[Rule, float, dict]]:
        p = self.policy
        assert p is not None
        seated = max(look.persons, default=0.0)
        # Seat vacated: only for a seat a student has actually taken during this session.
        prev = self._last_look.get(look.seat)
        present = seated >= self.params[Rule.SEAT_VACATED].min_score
        if present and prev and prev[1]:
            self._taken[look.seat] = self._taken.get(look.seat, 0.0) + (look.t - prev[0])
        self._last_look[look.seat] = (look.t, present)
        if self._taken.get(look.seat, 0.0) >= p.taken_after_s:
            yield Rule.SEAT_VACATED, 0.0 if present else 1.0, {}
        persons = sorted(look.persons, reverse=True)
        yield Rule.EXTRA_PERSON, persons[1] if len(persons) > 1 else 0.0, {"persons": len(persons)}
        yield Rule.OUTSIDER_NEAR_SEAT, max(look.outsiders, default=0.0), {}
        yield (Rule.NOTES, *self._best(look, NOTES_LABELS, p.allowed_aids))
        yield (Rule.DEVICE, *self._best(look, DEVICE_LABELS, p.allowed_aids))
        turned = look.yaw is not None and abs(look.yaw) >= p.yaw_limit_deg
        yield Rule.HEAD_TURNED, 1.0 if turned else 0.0, (
            {"yaw_deg": round(look.yaw, 1)} if look.yaw is not None else {})
        # No confident pose counts as not seen: the cue must hold, not merely not be refuted.
        yield Rule.HEAD_DOWN_HANDS_LOW, look.posture or 0.0, {}
        if p.face_check and look.face_sim is not None:
            yield Rule.FACE_CHANGED, min(1.0, max(0.0, 1.0 - look.face_sim)), {
                "similarity": round(look.face_sim, 3)}

    @staticmethod
    def _best(look: SeatLook, labels: dict[str, str], allowed: frozenset[str]
              ) -> tuple[float, dict]:
        best, label = 0.0, None
        for name, score in look.objects:
            aid = labels.get(name)
            if aid is not None and aid not in allowed and score > best:
                best, label = score, name
        return best, ({"label": label} if label else {})

    def _feed(self, key, rule: Rule, score: float, t: float, detail: dict) -> list[RuleEvent]:
        tr = self._tracks.get(key)
        if tr is None:
            if score <= 0.0:
                return []            # nothing seen and nothing tracked: stay cheap
            tr = self._tracks[key] = _Track(self.params[rule])
        prm = tr.params
        if not tr.scores:  # looks before this one saw nothing: a single hit is no majority
            tr.scores.extend([0.0] * (prm.window - 1))
        tr.scores.append(score if score >= prm.min_score else 0.0)
        while len(tr.scores) > prm.window:
            tr.scores.popleft()
        median = statistics.median(tr.scores)
        holds = median >= prm.threshold
        events: list[RuleEvent] = []
        if holds:
            tr.last_true = t
            tr.since = t if tr.since is None else tr.since
            tr.peak = max(tr.peak, median)
            if detail:
                tr.detail = detail
            if tr.alert_id is None:
                if t - tr.since >= prm.min_duration_s and t >= tr.quiet_until:
                    tr.alert_id, tr.started, tr.last_update = self._new_id(), tr.since, t
                    events.append(self._event(key, tr, AlertEvent.OPEN, t))
            elif t - tr.last_update >= prm.update_every_s:
                tr.last_update = t
                events.append(self._event(key, tr, AlertEvent.UPDATE, t))
        else:
            tr.since = None
            if tr.alert_id is None:
                tr.peak = 0.0
            if tr.alert_id and tr.last_true is not None and t - tr.last_true >= prm.clear_after_s:
                events.append(self._close(key, tr, t))
        return events

    def _event(self, key, tr: _Track, kind: AlertEvent, t: float) -> RuleEvent:
        return RuleEvent(alert_id=tr.alert_id or "", event=kind, rule=key[1], seat=key[0],
                         started=tr.started, t=t, score=round(tr.peak, 4), detail=dict(tr.detail))

    def _close(self, key, tr: _Track, t: float) -> RuleEvent:
        end = tr.last_true if tr.last_true is not None else t
        ev = self._event(key, tr, AlertEvent.CLOSE, max(end, tr.started))
        tr.alert_id, tr.since, tr.peak, tr.detail = None, None, 0.0, {}
        tr.quiet_until = t + tr.params.cooldown_s
        tr.scores.clear()
        return ev
