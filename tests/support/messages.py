"""What a subscriber received from a node: messages by id, repeats, evidence that verifies."""

from __future__ import annotations

import base64
import hashlib
import json

import cv2
import numpy as np

from tests.support.subscriber import Recorder


def alert_ids(rec: Recorder) -> list[str]:
    """Every alert message id received, repeats included."""
    return [json.loads(p)["id"] for t, p, _ in list(rec.messages) if t.endswith("/alert")]


def received(rec: Recorder) -> tuple[dict[str, dict], int]:
    """Alert and evidence messages by id, and how many arrived more than once."""
    by_id: dict[str, dict] = {}
    dupes = 0
    for topic, payload, _ in list(rec.messages):
        if topic.endswith(("/alert", "/evidence")):
            msg = json.loads(payload)
            if msg["id"] in by_id:
                assert by_id[msg["id"]] == msg, "a duplicate id with other content"
                dupes += 1
            by_id[msg["id"]] = msg
    return by_id, dupes


def check_evidence(msgs: dict[str, dict], *, clip: bool = True) -> None:
    """Every opened alert has its snapshot (and crop, at a seat); every referenced file
    arrived and its sha256 verifies; with ``clip``, a clip arrived too."""
    evidence = {m["evidence_id"]: m for m in msgs.values() if m["type"] == "evidence"}
    opened = [m for m in msgs.values() if m["type"] == "alert" and m["event"] == "open"]
    assert opened, "no alert was opened"
    for alert in opened:
        kinds = {ref["kind"] for ref in alert["evidence"]}
        assert "snapshot" in kinds
        if alert["seat"]:
            assert "crop" in kinds
        for ref in alert["evidence"]:
            ev = evidence[ref["evidence_id"]]          # every referenced file arrived
            raw = base64.b64decode(ev["data"])
            assert hashlib.sha256(raw).hexdigest() == ref["sha256"] == ev["sha256"]
    for ev in evidence.values():
        assert hashlib.sha256(base64.b64decode(ev["data"])).hexdigest() == ev["sha256"]
    snap = next(e for e in evidence.values() if e["kind"] == "snapshot")
    img = cv2.imdecode(np.frombuffer(base64.b64decode(snap["data"]), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[1] >= 640
    if clip:
        assert any(e["kind"] == "clip" for e in evidence.values())
