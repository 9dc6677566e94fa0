"""The labelled face set and the face-verification eval (kuzet_tools/models/face_sets.py,
face_eval.py): the set's labels, the statistics, the changed-face measurement, and the default
threshold recomputed on the set (edge/models/face_operating_point.py)."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from kuzet_tools.models import face_eval
from kuzet_tools.models.face_eval import (
    Track,
    comparisons,
    rates,
    sustained_below,
    threshold_at_far,
    wilson,
)
from kuzet_tools.models.face_sets import (
    BALD_GUYS_CENTRES,
    MANIFEST,
    SAMPLE_EVERY_S,
    context_box,
    counts,
    load_samples,
    pairs,
)

# ---- the set's labels --------------------------------------------------------------------


def test_the_set_has_over_a_hundred_pairs_and_names_its_sources():
    samples = load_samples()
    c = counts(samples)
    assert c["pairs"] >= 100 and c["same_pairs"] >= 100
    assert c["persons"] >= 60 and c["persons_in_same_pairs"] >= 10
    assert len({s.id for s in samples}) == len(samples)
    spec = json.loads(MANIFEST.read_text())
    assert "CC BY 4.0" in spec["attribution"]["footage"]
    for s in samples:
        x1, y1, x2, y2 = s.box
        assert x1 < x2 and y1 < y2, s.id
        assert len(s.image["sha256"]) == 64, s.id
        assert s.image["kind"] in ("deb", "wheel", "eval-set", "footage"), s.id


def test_each_bald_actor_is_six_photos_and_every_other_photo_face_is_its_own_person():
    samples = load_samples()
    per_person = Counter(s.person for s in samples if s.part == "photos")
    assert {p: per_person[p] for p in BALD_GUYS_CENTRES} == dict.fromkeys(BALD_GUYS_CENTRES, 6)
    assert all(n == 1 for p, n in per_person.items() if p not in BALD_GUYS_CENTRES)


def test_a_tracks_samples_are_a_second_apart_and_the_clips_people_pair_across_clips():
    samples = load_samples()
    by_track: dict[str, list[float]] = {}
    for s in samples:
        if s.track:
            by_track.setdefault(s.track, []).append(s.t)
    for track, times in by_track.items():
        assert all(b - a >= SAMPLE_EVERY_S - 1e-6
                   for a, b in zip(times, times[1:], strict=False)), track
    same, _ = pairs(samples)
    across = {(samples[i].track, samples[j].track) for i, j in same
              if samples[i].track and samples[j].track and samples[i].track != samples[j].track}
    assert any("female-and-male" in a and "face-detection-male" in b for a, b in across)


def test_the_crop_around_a_face_is_square_and_stays_in_the_image():
    assert context_box((100, 100, 120, 120), (480, 640, 3)) == (78, 78, 142, 142)   # 64 px
    assert context_box((0, 0, 100, 100), (200, 200, 3)) == (0, 0, 175, 175)


# ---- the statistics ------------------------------------------------------------------------


def test_wilson_interval_of_known_values():
    lo, hi = wilson(90, 100)
    assert (round(lo, 3), round(hi, 3)) == (0.826, 0.945)
    assert wilson(0, 0) is None
    assert wilson(10, 10)[1] == 1.0


def test_the_threshold_at_1pct_far_lets_through_one_in_a_hundred():
    different = list(np.linspace(0.0, 0.99, 100))       # the two highest: 0.99, 0.98
    t = threshold_at_far(different, 0.01)
    assert 0.98 < t < 0.9801
    r = rates([0.5, 0.985, 1.0], different, t)
    assert (r["false_accepts"], r["true_accepts"], r["far"]) == (1, 2, 0.01)
    # of 50 pairs 1% allows none: the threshold is just above the highest
    assert 0.49 < threshold_at_far(different[:50], 0.01) < 0.4901
    with pytest.raises(ValueError):
        threshold_at_far([], 0.01)


# ---- the changed face ----------------------------------------------------------------------


def test_the_rule_raises_only_after_the_similarity_stays_low_for_the_sustain_time():
    rule = sustained_below(0.4, 30.0)
    assert rule([(15, 0.8), (30, 0.2), (45, 0.9), (60, 0.1), (75, 0.1), (90, 0.1)]) == 90
    assert rule([(15, 0.2), (30, 0.2), (45, 0.9)]) is None
    assert sustained_below(0.4, 0.0)([(15, 0.8), (30, 0.2)]) == 30
    # the median of three ignores one bad comparison
    assert sustained_below(0.4, 0.0, median_of=3)([(15, 0.8), (30, 0.1), (45, 0.8)]) is None


def _track(name: str, person: str, vector: list[float], n: int = 5) -> Track:
    v = np.asarray(vector, np.float32)
    return Track(name, person, "footage", tuple(float(i) for i in range(n)), (v,) * n)


def test_comparisons_switch_to_the_second_track_at_its_start():
    a, b = _track("a", "p", [1, 0]), _track("b", "q", [0, 1])
    comps = comparisons(a.vectors[0], [(a, 0.0), (b, 45.0)], every_s=15.0, end_s=90.0)
    assert comps == [(15.0, 1.0), (30.0, 1.0), (45.0, 0.0), (60.0, 0.0), (75.0, 0.0),
                     (90.0, 0.0)]


def test_changed_face_counts_false_raises_and_the_delay_after_a_switch():
    tracks = [_track("a", "p", [1, 0]), _track("b", "q", [0.6, 0.8])]
    r = face_eval.changed_face(0.7, 30.0, tracks=tracks, minutes=10, switch_at_s=300)
    assert r["same"]["false_raises"] == 0 and r["same"]["sequences"] == 2
    assert r["switched"]["sequences"] == 2 and r["switched"]["detected"] == 2
    assert r["switched"]["delay_s_median"] == 30.0
    assert face_eval.changed_face(0.5, 30.0, tracks=tracks)["switched"]["detected"] == 0


# ---- the real models on the set: `kuzet models eval --set faces` (about 20 s) -------------


@pytest.fixture(scope="module")
def report() -> dict:
    from kuzet_tools.models.cli import run_faces_eval

    return run_faces_eval()


def test_the_eval_reports_tar_at_1pct_far_with_its_n(report):
    v = report["face_verify"]
    assert v["no_face"] == 0                       # every labelled face is found again
    assert v["pairs"] == v["same_pairs"] + v["different_pairs"]
    assert v["same_pairs"] >= 100 and v["tar_at_far_1pct"] >= 0.9   # the aim
    assert v["persons"] >= 60 and v["far_at_threshold"] <= 0.01
    lo, hi = v["tar_95_interval"]
    assert lo <= v["tar_at_far_1pct"] <= hi


def test_the_default_threshold_is_the_one_measured_on_the_set(report):
    from edge.models import face_operating_point as op

    v = report["face_verify"]
    # the default is the measured threshold rounded up to 0.01 (FAR stays at most 1%)
    assert op.FACE_MATCH_THRESHOLD == math.ceil(v["threshold_at_far_1pct"] * 100) / 100
    assert v["tar_at_far_1pct"] == op.MEASURED_TAR_AT_FAR_1PCT


def test_the_changed_face_rule_raises_nothing_while_one_person_stays(report):
    c = report["changed_face"]
    assert c["same"]["sequences"] == 8 and c["same"]["false_raises"] == 0
    assert c["switched"]["sequences"] == 20
    from edge.models import face_operating_point as op

    recommended = next(r for r in c["sweep"] if r["threshold"] == op.FACE_CHANGED_THRESHOLD)
    assert recommended["false_raises"] == 0 and recommended["detected"] >= 16
