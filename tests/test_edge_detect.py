"""``kuzet edge detect`` on real photos finds the people and faces a person would count."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kuzet_tools.models.evalset import load_eval_set

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photos() -> dict[str, Path]:
    return {img.id: img.path for img in load_eval_set() if img.path.suffix in (".jpg", ".png")}


def iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


# image id -> (people a person counts, faces a person counts, the boxes of those people)
EXPECTED = {
    "bus": (4, 2),
    "zidane": (2, 2),
}


def test_detect_counts_people_and_faces_in_real_photos(photos):
    paths = [str(photos[k]) for k in EXPECTED]
    out = subprocess.run([sys.executable, "-m", "kuzet_tools.cli", "edge", "detect", *paths,
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    labels = {img.id: img for img in load_eval_set()}
    for item, key in zip(results, EXPECTED, strict=True):
        people, faces = EXPECTED[key]
        found = [d for d in item["detections"] if d["label"] == "person"]
        truth = [o["box"] for o in labels[key].objects if o["label"] == "person"]
        matched = sum(1 for t in truth if any(iou(t, d["box"]) >= 0.5 for d in found))
        assert matched >= people - 1, f"{key}: {matched} of {people} people found"
        assert len(found) <= people + 1, f"{key}: {len(found)} people reported"
        assert len(item["faces"]) >= faces - 1
        for f in item["faces"]:
            assert set(f) == {"score", "box", "yaw"}
            assert len(f["box"]) == 4


def test_detect_reports_an_unreadable_image_and_goes_on(tmp_path, photos):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    out = subprocess.run([sys.executable, "-m", "kuzet_tools.cli", "edge", "detect", str(bad),
                          str(photos["bus"])], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1
    results = json.loads(out.stdout)
    assert "not a readable image" in results[0]["error"]
    assert any(d["label"] == "person" for d in results[1]["detections"])
