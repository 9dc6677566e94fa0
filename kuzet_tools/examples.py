"""Ready-made node set-ups on real footage (Debian opencv-doc's ``vtest.avi``): used by the
demo, the benchmarks and the end-to-end tests, and a template for a real node's config."""

from __future__ import annotations

import json
from pathlib import Path

import tomli_w

from edge.seats import grid_seat_map

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# The walkway of vtest.avi (768×576), where people pass: 6 × 5 = 30 "seats".
VTEST_REGION = (0.0, 130.0, 768.0, 330.0)

# Short durations so that the 80-second clip raises alerts (a real exam keeps the defaults).
FAST_RULES = {
    "taken_after_s": 2.0,
    "extra_person": {"min_duration_s": 1.0, "clear_after_s": 3.0, "cooldown_s": 5.0},
    "outsider_near_seat": {"min_duration_s": 1.0, "clear_after_s": 3.0, "cooldown_s": 5.0},
    "seat_vacated": {"min_duration_s": 3.0, "clear_after_s": 2.0, "cooldown_s": 5.0},
    "room_overcrowded": {"min_duration_s": 2.0, "clear_after_s": 3.0},
}


def write_vtest_node(folder: str | Path, *, broker_host: str = "127.0.0.1",
                     broker_port: int = 1883, node: str = "cam1", room: str = "a101",
                     building: str = "main", video: str | Path = VTEST, fps: float | str | None
                     = "native", loop: bool = False, cols: int = 6, rows: int = 5,
                     roster_size: int | None = 5, fast_rules: bool = True,
                     extra: dict | None = None) -> Path:
    """Write ``node.toml`` and ``seats.json`` into ``folder``; returns the config's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seats = grid_seat_map(cols, rows, 768, 576, region=VTEST_REGION, room=room)
    (folder / "seats.json").write_text(json.dumps(seats.model_dump(mode="json"), indent=1))
    source: dict = {"type": "opencv", "uri": str(video), "loop": loop}
    if fps is not None:
        source["fps"] = fps
    cfg: dict = {
        "node": {"building": building, "room": room, "name": node,
                 "data_dir": str(folder / "data")},
        "source": source,
        "seat_map": "seats.json",
        "broker": {"host": broker_host, "port": broker_port},
        "exam": {"session_id": "demo-session", "allowed_aids": ["calculator"],
                 "proctors": 1, **({"roster_size": roster_size} if roster_size else {})},
        "evidence": {"clip_before_s": 2, "clip_after_s": 2, "clip_fps": 4},
        "heartbeat_s": 2.0,
    }
    if fast_rules:
        cfg["rules"] = FAST_RULES
    for key, value in (extra or {}).items():      # sections merge; a new source replaces
        merge = isinstance(value, dict) and key != "source"
        cfg[key] = {**cfg.get(key, {}), **value} if merge else value
    path = folder / "node.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path
