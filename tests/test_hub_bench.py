"""The hub benchmark runs end to end (short; the real figures come from
``kuzet bench hub --json``). The end-to-end run is marked ``soak``: ./test -m soak."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuzet_tools.bench.hub import bench_hub, filesystem_of


@pytest.mark.soak
def test_bench_hub_reports_every_figure():
    result = bench_hub(alerts=500, nodes=20, pages=10, seconds=2.0, rate=10.0)
    assert {"ingest_per_s", "latency_p50_ms", "latency_p99_ms", "nodes", "pages"} <= set(result)
    assert result["latency_samples"] == result["latency_published"] > 0
    assert result["pass"]["latency_p99_ms"]


def test_the_bench_names_the_filesystem_it_measures_on(tmp_path):
    fs = filesystem_of(tmp_path)
    assert fs["type"] and (Path(fs["mount"]) == tmp_path or Path(fs["mount"]) in tmp_path.parents)
    if fs["type"] == "ext4":
        assert isinstance(fs["journal"], bool)
    assert filesystem_of(Path("/proc/self"))["type"] == "proc"    # the innermost mount wins
