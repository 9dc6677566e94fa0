"""A campus hub for tests (docs/campus.md): its config with two buildings, its users, and
messages delivered through the campus ingest as the campus broker would hand them over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from hub.config import HubConfig, parse_config
from hub.ingest import IngestWorker
from hub.store import users
from kuzet import contract
from tests.support.hub_env import PASSWORD, SECRET, _hash

HUBS = {"main": "https://hub.main.example", "east": "https://hub.east.example:8443"}
CAMPUS_USERS = {  # username -> (role, buildings)
    "dean": ("dean", ["main"]),
    "east_dean": ("dean", ["east"]),
    "both_dean": ("dean", ["east", "main"]),
    "office": ("office", []),
    "aigerim": ("proctor", []),
    "admin": ("admin", []),
}


def make_campus_config(tmp: Path, broker_port: int = 1883, **web) -> HubConfig:
    return parse_config({
        "hub": {"data_dir": str(tmp / "campus"), "timezone": "Asia/Almaty", "role": "campus"},
        "web": {"host": "127.0.0.1", "port": 0, "secret_key": SECRET, "cookie_secure": False,
                "threads": 16, **web},
        "broker": {"host": "127.0.0.1", "port": broker_port,
                   "client_id": f"campus-test-{tmp.name[-20:]}"},
        "campus": {"buildings": {name: {"url": url} for name, url in HUBS.items()}},
    }, "test-campus.toml")


def seed_campus(writer) -> dict[str, int]:
    def add(conn):
        ids = {}
        for name, (role, buildings) in CAMPUS_USERS.items():
            ids[name] = users.add_user(conn, name, PASSWORD, role, name.title(),
                                       password_hash=_hash())
            if buildings:
                users.set_buildings(conn, ids[name], buildings)
        return ids
    return writer.call(add)


def origin(building: str, room: str, node: str = "cam1") -> contract.Origin:
    return contract.Origin(building=building, room=room, node=node)


def alert(o: contract.Origin, alert_id: str, event: str = "open", *, rule: str = "device",
          duration_s: float = 5.0, started: datetime | None = None,
          **kw) -> contract.AlertMessage:
    started = started or datetime.now(UTC) - timedelta(seconds=duration_s)
    return contract.AlertMessage(
        origin=o, alert_id=alert_id, event=event, rule=rule,
        advisory=rule in contract.ADVISORY_RULES, seat="r1s1", started_at=started,
        ended_at=started + timedelta(seconds=duration_s) if event == "close" else None,
        duration_s=duration_s, score=0.9, **kw)


def status(o: contract.Origin, state: str = "online", session_id: str | None = "1"
           ) -> contract.StatusMessage:
    return contract.StatusMessage(origin=o, state=state, since=datetime.now(UTC),
                                  session_id=session_id)


def campus_ingest(services) -> IngestWorker:
    """The campus's ingest worker, not connected: ``deliver`` hands it messages."""
    cfg = services.config
    return IngestWorker(cfg.broker, services.writer, campus=set(cfg.campus.buildings))


def deliver(ingest: IngestWorker, topic: str, payload: bytes | contract.Message) -> None:
    """One message as the campus broker hands it over (QoS 0: no acknowledgement), through
    the ingest's own callback; returns once the writer has applied it."""
    msg = mqtt.MQTTMessage(topic=topic.encode())
    msg.payload = payload if isinstance(payload, bytes) else contract.encode(payload)
    msg.qos = 0
    ingest._on_message(None, None, msg)
    ingest.writer.call(lambda conn: None)     # the writer's queue is in order: applied by now
