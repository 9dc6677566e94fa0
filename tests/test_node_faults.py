"""Faults on the node itself: a full disk, a wall clock that jumps."""

from __future__ import annotations

import json
import threading

import pytest

from edge.config import load_config
from edge.node import EdgeNode
from kuzet_tools.broker import MosquittoBroker, free_port
from kuzet_tools.examples import write_vtest_node
from tests.support.faults import fill, record, tmpfs
from tests.support.subscriber import Recorder
from tests.support.wait import wait_until


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB filesystem (tmpfs) for the node's data: it fills within seconds."""
    with tmpfs(tmp_path / "disk", "6M") as mnt:
        yield mnt


def test_a_full_disk_is_reported_and_nothing_accepted_is_lost(tmp_path, small_disk, vtest_avi):
    port = free_port()
    cfg = load_config(write_vtest_node(
        tmp_path / "n", broker_port=port, fps=20,
        extra={"node": {"data_dir": str(small_disk)},
               "evidence": {"max_mb": 1, "min_free_mb": 1.5, "ballast_mb": 0.25,
                            "max_width": 640}}))
    node = EdgeNode(cfg)
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    filler = small_disk / "filler"
    try:
        # 1. Space runs low: evidence stops (alerts come first), and the status says so.
        assert wait_until(lambda: any("disk low" in r for r in node.health()), 60), \
            node.health()
        # 2. Something else fills the disk to the last byte.
        fill(filler)
        # 3. Alerts that cannot be written are held in memory, and the status says so.
        assert wait_until(lambda: node.stats.held_in_memory and any("disk full" in r
                                                                   for r in node.health()),
                          90), \
            node.health()
        assert node.threads_alive(), "a thread died on the full disk"
        # 4. The technician frees space and the hub comes back: everything arrives.
        filler.unlink()
        with MosquittoBroker(tmp_path / "mq", port=port, persistence=True) as broker:
            rec = Recorder(broker.host, broker.port, client_id="test-hub")
            assert wait_until(lambda: node.outbox.depth() == 0 and not node.stats.held_in_memory,
                              120), \
                (node.outbox.depth(), node.stats.held_in_memory, node.health())
            accepted = {m for m, t in node.outbox.journal() if t.endswith("/alert")}
            wait_until(lambda: accepted <= {json.loads(p)["id"] for p in rec.on("alert")}, 30)
            record("node: disk full, then freed", accepted,
                   [json.loads(p)["id"] for p in rec.on("alert")])
            assert wait_until(lambda: accepted <= {json.loads(p)["id"]
                                                   for p in rec.on("alert")}, 30)
            assert len(accepted) >= 5
            rec.close()
        assert node.threads_alive()
    finally:
        node.stop_event.set()
        runner.join(20)


@pytest.mark.parametrize("picture, state", [("same", "frozen"), ("black", "dark")])
def test_a_frozen_or_dark_camera_shows_in_the_status(tmp_path, broker, vtest_avi, picture,
                                                     state):
    import cv2
    import numpy as np

    folder = tmp_path / "stills"
    folder.mkdir()
    if picture == "same":                                 # the camera froze on one frame
        cap = cv2.VideoCapture(str(vtest_avi))
        ok, frame = cap.read()
        cap.release()
        assert ok
    else:                                                 # the lens is covered
        frame = np.zeros((576, 768, 3), np.uint8)
    cv2.imwrite(str(folder / "f.png"), frame)
    cfg = load_config(write_vtest_node(tmp_path / "n", broker_port=broker.port, extra={
        "source": {"type": "folder", "path": str(folder), "fps": 10, "loop": True}}))
    rec = Recorder(broker.host, broker.port)
    node = EdgeNode(cfg)
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    try:
        def status():
            s = rec.on("status")
            return json.loads(s[-1]) if s else {}
        assert wait_until(lambda: status().get("state") == "degraded"
                          and status()["source"]["state"] == state, 30), status()
        assert any(f"camera {state}" in r for r in status()["reasons"])
        assert node.threads_alive()
    finally:
        node.stop_event.set()
        runner.join(20)
        rec.close()
