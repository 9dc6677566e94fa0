"""The edge benchmark runs end to end on the node's own detectors (short; the real figures
come from ``kuzet bench edge --json``)."""

from __future__ import annotations

import pytest

from kuzet_tools.bench.edge import TARGETS, bench_edge

pytestmark = pytest.mark.integration     # a node on vtest.avi and a real mosquitto


def test_bench_edge_reports_every_figure_beside_its_target():
    result = bench_edge(seconds=3.0)
    assert result["seats"] == 30 and result["pipeline_fps"] > 0 and result["model_fps"] > 0
    assert 0 < result["ratio"] <= 1.05
    assert result["worst_seat_revisit_s"] is not None
    assert set(result["stages_ms"]) == {"prepare", "decode", "rules", "evidence", "infer"}
    assert result["targets"] == TARGETS and set(result["pass"]) == set(TARGETS)
