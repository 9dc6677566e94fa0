"""``kuzet bench campus`` end to end, small: 2 buildings of 3 rooms for 30 s, each building its
own mosquitto and hub process bridged to a campus mosquitto (the full run, 10 x 20 for an
exam-hour, is the soak test in tests/test_soak.py and a documented command in docs/hub.md)."""

from __future__ import annotations

import pytest

from kuzet.errors import ConfigError
from kuzet_tools.bench.campus import TARGETS, bench_campus
from kuzet_tools.bench.footage_evidence import footage_evidence

pytestmark = pytest.mark.integration


def test_the_evidence_is_what_the_node_makes_of_the_classroom_footage():
    variants = footage_evidence(2)
    for ev in variants:
        assert ev.snapshot[:3] == ev.crop[:3] == b"\xff\xd8\xff"        # JPEG
        assert ev.clip[:4] == b"RIFF" and ev.clip[8:12] == b"AVI "      # the node's MJPEG AVI
        sizes = ev.sizes()
        assert sizes["crop"] < sizes["snapshot"] < sizes["clip"]
        assert sizes["clip"] > 100_000                 # seconds of frames, not a stand-in
    assert variants[0].snapshot != variants[1].snapshot    # another seat, another moment


def test_a_small_campus_run_reports_every_figure_against_its_target():
    r = bench_campus(minutes=0.5, buildings=2, rooms=3)
    assert r["targets"] == TARGETS and set(r["pass"]) == set(TARGETS)
    assert r["alerts"] == 3 and {h["building"] for h in r["hubs"]} == {"b01", "b02"}
    assert [h["core"] for h in r["hubs"]] == r["cores"][:2] or len(r["cores"]) == 1
    assert r["bare_broker"]["messages_per_s"] > 0 and r["bare_broker"]["qos"] == 1
    for side in ("building", "campus"):
        figures = r[side]
        assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
        assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert r["building"]["shown"] == r["campus"]["arrived"] == r["alerts"]
    assert r["building"]["evidence_stored"] == {"snapshot": 3, "crop": 3, "clip": 3}
    assert r["campus"]["statuses"] >= 6 and r["campus"]["other_kinds"] == 0   # no evidence
    assert r["pass"]["lost"] and r["pass"]["duplicated"]
    assert r["pass"]["building_p99_ms"] == (r["building"]["p99_ms"] <= 250)
    assert r["pass"]["campus_p99_ms"] == (r["campus"]["p99_ms"] <= 2000)
    for hub in r["hubs"]:
        assert hub["cpu_s"] > 0 and hub["rss_mb_start"] > 0 and hub["rss_mb_end"] > 0
        assert hub["disk_bytes_per_exam_hour"] == round(hub["disk_bytes"] * 120)
    stored = sum(r["evidence_bytes"].values())
    assert sum(h["disk_bytes"] for h in r["hubs"]) >= 3 * stored   # every file on disk


@pytest.mark.parametrize("bad", [{"minutes": 0}, {"buildings": 0}, {"rooms": 100}])
def test_a_campus_that_cannot_be_is_refused(bad):
    with pytest.raises(ConfigError, match="--minutes must be above 0"):
        bench_campus(**{"minutes": 1, "buildings": 1, "rooms": 1, **bad})
