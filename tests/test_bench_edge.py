"""The edge benchmark runs end to end on the node's own detectors (short; the real figures
come from ``kuzet bench edge --json``)."""

from __future__ import annotations

import pytest

from kuzet_tools.bench.cpu import cpu_sweeps
from kuzet_tools.bench.edge import TARGETS, bench_edge

pytestmark = pytest.mark.integration     # a node on vtest.avi and a real mosquitto


def test_bench_edge_reports_every_figure_beside_its_target():
    result = bench_edge(seconds=3.0, sweeps=1)
    assert result["seats"] == 30 and result["pipeline_fps"] > 0 and result["model_fps"] > 0
    assert 0 < result["ratio"] <= 1.05
    assert result["worst_seat_revisit_s"] is not None
    assert set(result["stages_ms"]) == {"prepare", "decode", "rules", "evidence", "infer"}
    assert result["targets"] == TARGETS and set(result["pass"]) == set(TARGETS)
    # the one-core figures. On vtest (every seat's crop changing) each look of the whole node
    # costs more CPU than the bare models' look; on the quiet room most seats are skipped and
    # a look's mix differs (the room look, faces only where watched), so only its figures
    # are checked there (a skipped seat is no look)
    for footage in ("quiet", "vtest"):
        one = result["one_core"][footage]
        assert result[f"cpu_ms_per_sweep_{footage}"] == one["cpu_ms_per_sweep"] > 0
        assert result[f"bare_cpu_ms_per_sweep_{footage}"] == one["bare_cpu_ms_per_sweep"] > 0
        assert 0 < one["bare_cpu_ms_per_look"] and 0 < one["cpu_ms_per_look"], footage
        if footage == "vtest":
            assert one["bare_cpu_ms_per_look"] < one["cpu_ms_per_look"]
        assert result[f"cpu_vs_bare_{footage}"] == pytest.approx(
            one["cpu_ms_per_look"] / one["bare_cpu_ms_per_look"], rel=0.02)
        assert one["num_threads"] == 1 and one["seats"] == 30 and one["sweeps"] >= 1
        assert 1 <= one["looks_per_sweep"] <= 32    # the room and 30 seats (one in flight)
        # one core: the process cannot use more CPU than the wall time it had (slack for
        # the sampling instants)
        assert one["cpu_ms_per_sweep"] <= 1.05 * one["wall_ms_per_sweep"], footage
    assert {"nanodet-m-416-int8", "blazeface-full-range", "ssdlite-mobilenet-v2-coco-fp16",
            "movenet-lightning-fp16", "palm-detection-lite"} <= set(result["model_cpu_ms"])
    assert all(ms > 0 for ms in result["model_cpu_ms"].values())


def test_bad_footage_or_sweeps_are_refused_clearly():
    with pytest.raises(ValueError, match="footage"):
        cpu_sweeps("street", 1)
    with pytest.raises(ValueError, match="sweeps"):
        cpu_sweeps("vtest", 0)
