"""Choosing the phone thresholds (``kuzet_tools/models/phone_tuning.py``): the grid's counting,
on boxes written here, and one real look on the tune part."""

from __future__ import annotations

import numpy as np
import pytest

from kuzet_tools.models.phone_sets import phones_dev_dir
from kuzet_tools.models.phone_tuning import Seen, grid, score, tune

TRUTH = np.array([[0, 0, 10, 20], [50, 50, 60, 70]], np.float32)


def _seen(nano, ssd=()) -> Seen:
    return Seen(TRUTH, {"nanodet": list(nano), "ssdlite": list(ssd)})


def test_a_threshold_keeps_the_phones_at_or_above_it_and_counts_the_rest_as_missed() -> None:
    seen = [_seen([(0.6, (0, 0, 10, 20)), (0.35, (50, 50, 60, 70)), (0.5, (80, 80, 90, 99))])]
    assert score(seen, {"nanodet": 0.3}) == (1.0, 10.0)      # both found, one false phone
    assert score(seen, {"nanodet": 0.4}) == (0.5, 10.0)
    assert score(seen, {"nanodet": 0.7}) == (0.0, 0.0)


def test_two_sources_on_one_phone_count_it_once() -> None:
    seen = [_seen([(0.6, (0, 0, 10, 20))], [(0.7, (0, 0, 10, 19))])]
    assert score(seen, {"nanodet": 0.3, "ssdlite": 0.3}) == (0.5, 0.0)


def test_the_grid_picks_the_most_recall_within_the_false_phone_bound() -> None:
    seen = {"own": [_seen([(0.6, (0, 0, 10, 20)), (0.45, (80, 80, 90, 99))],
                          [(0.5, (50, 50, 60, 70))])],
            "seat": [_seen([(0.6, (0, 0, 10, 20))], [(0.5, (50, 50, 60, 70))])]}
    best = grid(seen, "nanodet", thresholds=(0.3, 0.5), max_fp=0.0)["best"]
    assert (best["first_threshold"], best["ssdlite_threshold"]) == (0.5, 0.3)
    assert best["recall_own"] == best["recall_seat"] == 1.0


@pytest.mark.skipif(not phones_dev_dir().is_dir(), reason="../shared/data/phones-dev absent")
def test_tuning_reads_only_the_tune_part_and_reports_each_source() -> None:
    report = tune(limit=2, sources=("nanodet",))
    assert report["part"] == "tune" and report["photos"] == 2
    assert {row["threshold"] for row in report["alone"]["nanodet"]} >= {0.3, 0.5}
    assert report["grids"]["nanodet"]["rows"]
