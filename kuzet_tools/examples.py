"""Ready-made node set-ups on real footage: Debian opencv-doc's ``vtest.avi`` (people walking
along a hallway) with a grid of "seats" over the walkway, and ``footage/classroom.gif`` (a real
classroom, four students seated; CC BY 4.0, see ``footage/README.md``) with its four seats.
Used by the demo, the benchmarks and the end-to-end tests, and a template for a real node's
config."""

from __future__ import annotations

import json
from pathlib import Path

import tomli_w

from edge.seats import grid_seat_map

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
FOOTAGE = Path(__file__).resolve().parent / "footage"
# "Sample videos © Intel Corporation, CC BY 4.0, https://github.com/intel-iot-devkit/sample-videos"
CLASSROOM = FOOTAGE / "classroom.gif"
CLASSROOM_SEATS = FOOTAGE / "classroom-seats.json"     # drawn on its 480×270 frame
CLASSROOM_ROSTER = 4                                   # the four students it shows
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
    seats = grid_seat_map(cols, rows, 768, 576, region=VTEST_REGION, room=room)
    source: dict = {"type": "opencv", "uri": str(video), "loop": loop}
    if fps is not None:
        source["fps"] = fps
    return _write_node(Path(folder), seats.model_dump(mode="json"), source,
                       building=building, room=room, node=node, broker_host=broker_host,
                       broker_port=broker_port, roster_size=roster_size,
                       rules=FAST_RULES if fast_rules else None, extra=extra)


def write_classroom_node(folder: str | Path, *, broker_host: str = "127.0.0.1",
                         broker_port: int = 1883, node: str = "cam1", room: str = "a101",
                         building: str = "main", loop: bool = True,
                         extra: dict | None = None) -> Path:
    """Write ``node.toml`` and ``seats.json`` for the classroom clip into ``folder`` (returns
    the config's path): its four seats, a roster of four and the node's DEFAULT rules, as a
    real exam has them. Nothing happens in the clip, so nothing should be raised."""
    seats = json.loads(CLASSROOM_SEATS.read_text())
    seats["room"] = room
    source = {"type": "opencv", "uri": str(CLASSROOM), "fps": "native", "loop": loop}
    return _write_node(Path(folder), seats, source, building=building, room=room, node=node,
                       broker_host=broker_host, broker_port=broker_port,
                       roster_size=CLASSROOM_ROSTER, rules=None, extra=extra)


def _write_node(folder: Path, seats: dict, source: dict, *, building: str, room: str,
                node: str, broker_host: str, broker_port: int, roster_size: int | None,
                rules: dict | None, extra: dict | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seats.json").write_text(json.dumps(seats, indent=1))
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
    if rules is not None:
        cfg["rules"] = rules
    for key, value in (extra or {}).items():      # sections merge; a new source replaces
        merge = isinstance(value, dict) and key != "source"
        cfg[key] = {**cfg.get(key, {}), **value} if merge else value
    path = folder / "node.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path
