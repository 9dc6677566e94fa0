"""Face verification measured on the labelled face set (``kuzet models eval --set faces``).

Each sample of ``tests/data/faces/faces.json`` (``kuzet_tools/models/face_sets.py``) is cut
out the way the hub is given a seat crop (2.5x the face, :func:`face_sets.find_again`), its
face found again by BlazeFace and embedded; every pair's score is the cosine similarity of
its two embeddings. A sample whose face is not found again scores -1 in all its pairs (the hub
would say "no face": a same-person pair rejected, never a false accept).

:func:`verification` gives the true-accept rate (TAR) at 1% false accepts (FAR): the lowest
threshold at which at most 1% of the different-person pairs score at or above it, and the
share of same-person pairs that do, with a 95% Wilson interval. Pairs of one person share
that person's looks, so the interval (which treats pairs as independent) is narrower than the
truth when few persons make the same-person pairs; ``persons_in_same_pairs`` says how few.

:func:`changed_face` measures the changed-face rule on the same footage: sequences of one
person's track (nobody changed: any raise is false) and switched sequences (track A, then at
``switch_at_s`` a different person's track B: the delay to the raise), for a threshold and a
sustain time, with the comparison cadence of the node (``every_s``). H5's defaults for the
rule (``edge.rules``) come from it. Example::

    emb = sample_embeddings()                    # the models run once (a few seconds)
    changed_face(0.35, 30.0, embeddings=emb)      # {"same": {...}, "switched": {...}}
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.models.base import Face, FaceDetector
from kuzet_tools.models.face_sets import (
    BUILD_SCORE,
    MANIFEST,
    Sample,
    clip_frames,
    find_again,
    follow,
    image_of,
    load_samples,
    pairs,
)

TARGET_FAR = 0.01
TARGET_TAR = 0.9                 # the aim: TAR >= 0.9 at FAR 1% ...
TARGET_PAIRS = 100               # ... on at least this many pairs
NO_FACE = -1.0                   # a pair's score when either face is not found again


class Embedder(Protocol):
    """``edge.models.face_embed.FaceEmbedder`` has this shape."""

    def embed(self, image_bgr: np.ndarray, face: Face) -> np.ndarray: ...


def default_models() -> tuple[FaceDetector, Embedder]:
    """BlazeFace (at the set's build score, so that every labelled face is found again) and
    the node's face embedder, both from ``edge.models.registry``."""
    from edge.models import registry

    detector = registry.create_face_detector(score_threshold=BUILD_SCORE, with_yaw=False,
                                             num_threads=1)
    return detector, registry.create_face_embedder()


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of ``k`` successes in ``n`` (95% with the default z)."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def threshold_at_far(different: Sequence[float], far: float = TARGET_FAR) -> float:
    """The lowest threshold (accept when score >= it) at which at most ``far`` of the
    ``different`` scores are accepted: just above the (floor(far * n) + 1)-th highest."""
    scores = np.sort(np.asarray(different, np.float64))[::-1]
    if scores.size == 0:
        raise ValueError("no different-person pairs to set a threshold on")
    allowed = int(math.floor(far * scores.size + 1e-9))
    if allowed >= scores.size:
        return float(scores[-1])
    return float(np.nextafter(scores[allowed], np.inf))


def rates(same: Sequence[float], different: Sequence[float], threshold: float) -> dict:
    """TAR (with its Wilson interval) and FAR at ``threshold``."""
    same_a, diff_a = np.asarray(same, np.float64), np.asarray(different, np.float64)
    k, fa = int((same_a >= threshold).sum()), int((diff_a >= threshold).sum())
    interval = wilson(k, same_a.size)
    return {"tar": round(k / same_a.size, 3) if same_a.size else None,
            "tar_95": None if interval is None else [round(v, 3) for v in interval],
            "true_accepts": k, "same_pairs": int(same_a.size),
            "far": round(fa / diff_a.size, 4) if diff_a.size else None,
            "false_accepts": fa, "different_pairs": int(diff_a.size)}


@dataclass
class Embeddings:
    """Every sample's embedding (None: its face was not found again) and the models' time."""

    samples: list[Sample]
    vectors: list[np.ndarray | None]
    ms_per_face: float | None = None
    embedder: str = ""


def sample_embeddings(samples: list[Sample] | None = None,
                      models: tuple[FaceDetector, Embedder] | None = None) -> Embeddings:
    """Find each sample's face again and embed it."""
    samples = load_samples(MANIFEST) if samples is None else samples
    detector, embedder = models or default_models()
    vectors: list[np.ndarray | None] = []
    ms = []
    for s in samples:
        image = image_of(s)
        face = find_again(detector, image, s.box)
        if face is None or face.keypoints is None:
            vectors.append(None)
            continue
        t0 = time.perf_counter()
        vectors.append(np.asarray(embedder.embed(image, face), np.float32).ravel())
        ms.append(1000 * (time.perf_counter() - t0))
    return Embeddings(samples, vectors, round(float(np.median(ms)), 1) if ms else None,
                      getattr(embedder, "name", type(embedder).__name__))


def _cos(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return NO_FACE
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom else 0.0


def pair_scores(emb: Embeddings) -> tuple[list[tuple[Sample, Sample, float]],
                                          list[tuple[Sample, Sample, float]]]:
    """(same-person, different-person) pairs with their cosine similarity."""
    same, different = pairs(emb.samples)
    v, s = emb.vectors, emb.samples
    return ([(s[i], s[j], _cos(v[i], v[j])) for i, j in same],
            [(s[i], s[j], _cos(v[i], v[j])) for i, j in different])


def verification(emb: Embeddings, far: float = TARGET_FAR) -> dict:
    """The ``face_verify`` report: TAR at ``far`` FAR over all pairs, per part at the same
    threshold, and TAR at a few other FARs."""
    same, different = pair_scores(emb)
    same_s = [x[2] for x in same]
    diff_s = [x[2] for x in different]
    threshold = threshold_at_far(diff_s, far)
    overall = rates(same_s, diff_s, threshold)
    per_part = {}
    for part in sorted({s.part for s in emb.samples}):
        ps = [x[2] for x in same if x[0].part == part and x[1].part == part]
        pd = [x[2] for x in different if x[0].part == part and x[1].part == part]
        row = rates(ps, pd, threshold) if ps else {"same_pairs": 0}
        row["persons_in_same_pairs"] = len({x[0].person for x in same if x[0].part == part})
        per_part[part] = row
    # without the classroom's tiny faces (12-24 px in the 480x270 preview clip)
    near_same = [x[2] for x in same if x[0].part != "classroom"]
    near_diff = [x[2] for x in different if "classroom" not in (x[0].part, x[1].part)]
    near_t = threshold_at_far(near_diff, far)
    persons = {s.person for s in emb.samples}
    lo_hi = overall["tar_95"]
    return {
        "tar_at_far_1pct": overall["tar"],
        "tar_95_interval": lo_hi,
        "threshold_at_far_1pct": round(threshold, 4),
        "far_at_threshold": overall["far"],
        "pairs": len(same) + len(different),
        "same_pairs": len(same),
        "different_pairs": len(different),
        "persons": len(persons),
        "persons_in_same_pairs": len({x[0].person for x in same}),
        "samples": len(emb.samples),
        "no_face": sum(v is None for v in emb.vectors),
        "embedder": emb.embedder,
        "ms_per_face": emb.ms_per_face,
        "target": {"tar": TARGET_TAR, "far": far, "pairs": TARGET_PAIRS},
        "meets_target": bool(overall["tar"] is not None and overall["tar"] >= TARGET_TAR
                             and len(same) + len(different) >= TARGET_PAIRS),
        "per_part": per_part,
        "without_classroom": {"threshold_at_far_1pct": round(near_t, 4),
                              **rates(near_same, near_diff, near_t)},
        "tar_at_far": {str(f): rates(same_s, diff_s, threshold_at_far(diff_s, f))["tar"]
                       for f in (0.001, 0.01, 0.05)},
        "similarity": {"same_median": round(float(np.median(same_s)), 3),
                       "different_median": round(float(np.median(diff_s)), 3),
                       "different_max": round(float(np.max(diff_s)), 3)},
    }


# ---- the changed face ---------------------------------------------------------------------

Rule = Callable[[Sequence[tuple[float, float]]], float | None]


def sustained_below(threshold: float, sustain_s: float, median_of: int = 1) -> Rule:
    """The changed-face rule as a function of one seat's comparisons ``[(t, similarity)]``:
    the time of the first raise, or None. It raises at the first comparison where the median
    of the last ``median_of`` similarities has been below ``threshold`` at every comparison for
    ``sustain_s`` seconds or more (``sustain_s`` 0: the first such comparison)."""
    def rule(comparisons: Sequence[tuple[float, float]]) -> float | None:
        since = None
        recent: list[float] = []
        for t, sim in comparisons:
            recent = (recent + [sim])[-median_of:]
            if float(np.median(recent)) < threshold:
                since = t if since is None else since
                if t - since >= sustain_s:
                    return t
            else:
                since = None
        return None
    return rule


def node_rule(look_every_s: float = 1.0) -> Rule:
    """The node's own changed-face rule (``edge.rules.RulesEngine`` with its defaults, in a
    session that opted in) as a :data:`Rule`: one seat, seated, looked at every
    ``look_every_s`` s; the looks at the comparisons' times carry their similarity. Returns
    the time the ``face_changed`` alert opens."""
    from edge.rules import Policy, RulesEngine, SeatLook
    from kuzet.contract import AlertEvent
    from kuzet.contract import Rule as ContractRule

    def rule(comps: Sequence[tuple[float, float]]) -> float | None:
        if not comps:
            return None
        engine = RulesEngine(new_id=lambda: "a")
        engine.start_session(Policy(session_id="eval", face_check=True), t=0.0)
        sims = {round(t / look_every_s): sim for t, sim in comps}
        for k in range(int(round(comps[-1][0] / look_every_s)) + 1):
            t = k * look_every_s
            look = SeatLook("s01", t, persons=(0.8,), face_sim=sims.get(k))
            for ev in engine.observe_seat(look) + engine.tick(t):
                if ev.rule == ContractRule.FACE_CHANGED and ev.event == AlertEvent.OPEN:
                    return t
        return None
    return rule


def node_defaults() -> dict:
    """The changed-face rule's defaults on the node: threshold, sustain, median window
    (``edge.rules``) and the comparison cadence (``edge.face_check``)."""
    from edge.face_check import FaceCheckParams
    from edge.rules import DEFAULT_PARAMS, FACE_THRESHOLD
    from kuzet.contract import Rule as ContractRule

    p = DEFAULT_PARAMS[ContractRule.FACE_CHANGED]
    return {"threshold": FACE_THRESHOLD, "sustain_s": p.min_duration_s,
            "median_of": p.window, "every_s": FaceCheckParams().every_s}


@dataclass(frozen=True)
class Track:
    """One footage face followed through its clip: its person and its frames' embeddings
    (``times`` in seconds; frames where it was not found are left out)."""

    name: str
    person: str
    part: str
    times: tuple[float, ...]
    vectors: tuple[np.ndarray, ...]


def track_embeddings(samples: list[Sample] | None = None,
                     models: tuple[FaceDetector, Embedder] | None = None) -> list[Track]:
    """Every frame of every footage track of the set, followed again and embedded."""
    samples = load_samples(MANIFEST) if samples is None else samples
    detector, embedder = models or default_models()
    tracks = []
    for name in dict.fromkeys(s.track for s in samples if s.track):
        first = min((s for s in samples if s.track == name), key=lambda s: s.t or 0.0)
        frames, fps = clip_frames(first.image["clip"])
        boxes = follow(detector, frames[first.image["frame"]:], first.box)
        times, vectors = [], []
        for k, box in enumerate(boxes):
            if box is None:
                continue
            i = first.image["frame"] + k
            face = find_again(detector, frames[i], box)
            if face is None or face.keypoints is None:
                continue
            times.append(i / fps)
            vectors.append(np.asarray(embedder.embed(frames[i], face), np.float32).ravel())
        tracks.append(Track(name, first.person, first.part, tuple(times), tuple(vectors)))
    return tracks


def _look_order(track: Track, after_s: float) -> list[int]:
    """The frames a comparison takes, in turn: those ``after_s`` or more after the track's
    first (the check-in face), forth and back through the clip."""
    idx = [i for i, t in enumerate(track.times) if t - track.times[0] >= after_s]
    return idx + idx[-2:0:-1] if len(idx) > 2 else idx


def comparisons(reference: np.ndarray, tracks: Sequence[tuple[Track, float]],
                every_s: float, end_s: float, after_s: float = 1.0
                ) -> list[tuple[float, float]]:
    """``(t, similarity to reference)`` every ``every_s`` seconds up to ``end_s``: the seat
    shows each ``(track, from_s)`` from ``from_s`` on (the last one started wins), each
    comparison the track's next frame in :func:`_look_order`."""
    out = []
    orders = {id(tr): _look_order(tr, after_s if k == 0 else 0.0)
              for k, (tr, _) in enumerate(tracks)}
    used = {id(tr): 0 for tr, _ in tracks}
    t = every_s
    while t <= end_s + 1e-9:
        track = [tr for tr, start in tracks if start <= t][-1]
        order = orders[id(track)]
        if order:
            frame = order[used[id(track)] % len(order)]
            used[id(track)] += 1
            out.append((t, _cos(reference, track.vectors[frame])))
        t += every_s
    return out


def changed_face(threshold: float, sustain_s: float, *, every_s: float = 15.0,
                 minutes: float = 10.0, switch_at_s: float = 300.0, median_of: int = 1,
                 rule: Rule | None = None, tracks: list[Track] | None = None,
                 parts: Sequence[str] = ("footage", "classroom")) -> dict:
    """What the changed-face rule sees on the set's footage.

    Check-in face: the first frame of a track. ``same``: each track shown for ``minutes``
    (a comparison every ``every_s`` s, each the track's next frame a second or more after the
    check-in, forth and back): a raise is false. ``switched``: track A checked in, A until
    ``switch_at_s``, then every other person's track B of the same ``part`` until ``minutes``:
    detected when the rule raises after the switch (the delay is from the switch), a raise
    before it is false. ``rule`` (``comparisons -> raise time or None``) defaults to
    :func:`sustained_below` (``threshold``, ``sustain_s``, ``median_of``); pass another to
    measure an implementation of the rule itself. ``tracks`` from :func:`track_embeddings`.
    """
    rule = rule or sustained_below(threshold, sustain_s, median_of)
    tracks = [t for t in (tracks if tracks is not None else track_embeddings())
              if t.part in parts and t.vectors]
    end = minutes * 60.0
    same_rows, below, total = [], 0, 0
    for tr in tracks:
        comps = comparisons(tr.vectors[0], [(tr, 0.0)], every_s, end)
        below += sum(sim < threshold for _, sim in comps)
        total += len(comps)
        same_rows.append({"track": tr.name, "raised_at_s": rule(comps),
                          "min_similarity": round(min(s for _, s in comps), 3)
                          if comps else None})
    switched = []
    for a in tracks:
        for b in tracks:
            if a.person == b.person or a.part != b.part:
                continue
            comps = comparisons(a.vectors[0], [(a, 0.0), (b, switch_at_s)], every_s, end)
            raised = rule(comps)
            switched.append({"a": a.name, "b": b.name, "raised_at_s": raised,
                             "false_before_switch": raised is not None and
                             raised < switch_at_s})
    delays = [r["raised_at_s"] - switch_at_s for r in switched
              if r["raised_at_s"] is not None and r["raised_at_s"] >= switch_at_s]
    return {
        "threshold": threshold, "sustain_s": sustain_s, "every_s": every_s,
        "median_of": median_of, "minutes": minutes, "switch_at_s": switch_at_s,
        "tracks": len(tracks), "persons": len({t.person for t in tracks}),
        "same": {"sequences": len(same_rows),
                 "false_raises": sum(r["raised_at_s"] is not None for r in same_rows),
                 "comparisons": total, "comparisons_below_threshold": below,
                 "rows": same_rows},
        "switched": {"sequences": len(switched),
                     "detected": len(delays),
                     "missed": sum(r["raised_at_s"] is None for r in switched),
                     "false_before_switch": sum(r["false_before_switch"] for r in switched),
                     "delay_s_median": float(np.median(delays)) if delays else None,
                     "delay_s_max": float(max(delays)) if delays else None},
    }


def changed_face_sweep(tracks: list[Track], thresholds: Sequence[float],
                       sustains: Sequence[float], **kwargs) -> list[dict]:
    """:func:`changed_face` for each threshold and sustain time, without the per-row detail."""
    out = []
    for th in thresholds:
        for su in sustains:
            r = changed_face(th, su, tracks=tracks, **kwargs)
            out.append({"threshold": th, "sustain_s": su,
                        "false_raises": r["same"]["false_raises"],
                        "same_sequences": r["same"]["sequences"],
                        "below_share": round(r["same"]["comparisons_below_threshold"]
                                             / max(1, r["same"]["comparisons"]), 3),
                        "detected": r["switched"]["detected"],
                        "switched_sequences": r["switched"]["sequences"],
                        "delay_s_median": r["switched"]["delay_s_median"],
                        "delay_s_max": r["switched"]["delay_s_max"]})
    return out
