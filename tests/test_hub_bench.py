"""The hub benchmark runs end to end (short; the real figures come from
``kuzet bench hub --json``). Marked ``soak``: ./test -m soak."""

from __future__ import annotations

import pytest

from hub.bench import bench_hub


@pytest.mark.soak
def test_bench_hub_reports_every_figure():
    result = bench_hub(alerts=500, nodes=20, pages=10, seconds=2.0, rate=10.0)
    assert {"ingest_per_s", "latency_p50_ms", "latency_p99_ms", "nodes", "pages"} <= set(result)
    assert result["latency_samples"] == result["latency_published"] > 0
    assert result["pass"]["latency_p99_ms"]
