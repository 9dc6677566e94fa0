"""The hub the form fuzz runs against (tests/test_fuzz_forms*.py): real SQLite files, the real
writer thread, a real TLS mosquitto, driven through Flask's test client; and the check that
after a request the hub is still whole."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.services import HubServices
from hub.web.app import create_app
from tests.support.hub_env import login, seed
from tests.support.pki import provisioned_broker
from tests.test_enrolment_browser import hub_config
from tests.test_hub_access import put_alert

TZ = "Asia/Almaty"
NODE = ("main", "a101", "cam1")


@dataclass(repr=False)
class Hub:
    app: Any
    services: HubServices
    root: Path                      # everything the test made; the hub writes only in data
    data: Path
    clients: dict[str, tuple[Any, str]]       # user -> (signed-in test client, CSRF token)
    ids: dict[str, list]
    files_before: set[Path]


def files_under(root: Path) -> set[Path]:
    return {Path(d) / f for d, _, fs in os.walk(root) for f in fs}


@contextmanager
def running_hub(root: Path) -> Iterator[Hub]:
    """The hub of the form fuzz, everything it makes under ``root``: a real TLS mosquitto
    (so that the technician's enrolment routes run for real), the real writer and ingest,
    the seeded users with a signed-in test client each, and the data ``prepare`` adds."""
    with provisioned_broker(root) as (_, broker, pki):
        config = hub_config(root / "deep" / "er", broker, pki)    # data dir two levels down
        services = HubServices(config).start(ingest=True)
        try:
            assert services.ingest.connected.wait(10), services.ingest.last_error
            seed(services.writer, a101_now=False)    # the timetable below schedules a101
            app = create_app(config, services)
            app.config["TESTING"] = True
            alerts = [put_alert(services, room)[0] for room in ("a101", "a101", "a101", "a101",
                                                                "a101", "b202")]
            clients = {}
            for user in ("aigerim", "bolat", "dean", "tech", "admin"):
                client = app.test_client()
                clients[user] = (client, login(client, user))
            prepare(app, services, clients, alerts)
            data = config.hub.data_dir
            hub = Hub(app, services, root, data, clients, {
                "alert": alerts,
                "session": [r[0] for r in services.writer.call(
                    lambda c: c.execute("SELECT id FROM sessions ORDER BY id").fetchall())],
                "protocol": [r[0] for r in services.writer.call(
                    lambda c: c.execute("SELECT id FROM protocols ORDER BY id").fetchall())],
                "building": ["main"], "room": ["a101", "b202"], "node": ["cam1", "cam2"],
                "node_room": ["a101"],
            }, set())
            hub.files_before = files_outside(hub)
            yield hub
        finally:
            services.stop()


def prepare(app, services, clients, alerts) -> None:
    """A roster and today's timetable imported; protocols as draft, issued and signed; a
    node registered and enrolled."""
    client, token = clients["admin"]
    today = datetime.now(ZoneInfo(TZ)).date().isoformat()
    timetable = ("exam_code,discipline,groups,building,room,date,start,end,proctors,"
                 f"allowed_aids\nM1,Математика,ЭЭ-21,main,a101,{today},00:00,23:59,aigerim,"
                 "calculator\n")
    roster = "group,student_no,name,seat\nЭЭ-21,1,Әлия,r2s3\nЭЭ-21,2,Бауыржан,\n"
    r = client.post("/exams/import", data={
        "csrf_token": token, "roster": (io.BytesIO(roster.encode()), "r.csv"),
        "timetable": (io.BytesIO(timetable.encode()), "t.csv")})
    assert r.status_code == 302
    client, token = clients["aigerim"]
    for aid in alerts[:3]:
        assert client.post(f"/proctor/alerts/{aid}/confirm",
                           data={"csrf_token": token}).status_code == 302
    pids = [r[0] for r in services.writer.call(
        lambda c: c.execute("SELECT id FROM protocols ORDER BY id").fetchall())]
    assert len(pids) == 3
    for pid in pids[1:]:
        assert client.post(f"/protocols/{pid}/issue",
                           data={"csrf_token": token}).status_code == 302
    scan = b"%PDF-1.4\n% a scanned signed copy\n"
    assert client.post(f"/protocols/{pids[2]}/signed", data={
        "csrf_token": token, "scan": (io.BytesIO(scan), "s.pdf", "application/pdf")}
                       ).status_code == 302
    client, token = clients["tech"]
    assert client.post("/tech/nodes", data={"csrf_token": token, "building": NODE[0],
                                            "room": NODE[1], "name": NODE[2]}
                       ).status_code == 302
    assert client.post("/tech/nodes", data={"csrf_token": token, "building": "main",
                                            "room": "a101", "name": "cam2"}
                       ).status_code == 302
    assert client.post("/tech/nodes/main/a101/cam1/enrol",
                       data={"csrf_token": token}).status_code == 200


def files_outside(hub: Hub) -> set[Path]:
    """Files outside the hub's data folder, the PKI folder and the broker's folder."""
    allowed = (hub.data, hub.root / "pki", hub.root / "mq")
    return {p for p in files_under(hub.root) if not any(p.is_relative_to(a) for a in allowed)}


PROTOCOL_FILE = re.compile(r"^\d+-(issued-[0-9T.Z-]+\.pdf|signed-[0-9a-f]{16}\.(pdf|jpg|png))$")


def assert_hub_whole(hub: Hub) -> None:
    """The writer accepts work, the database is intact, nothing was written where it must
    not be."""
    check = hub.services.writer.call(
        lambda c: c.execute("PRAGMA integrity_check").fetchone()[0], timeout=10)
    assert check == "ok"
    assert files_outside(hub) == hub.files_before
    for p in files_under(hub.data):
        rel = p.relative_to(hub.data)
        if rel.parts[0] == "protocols":
            assert PROTOCOL_FILE.match(p.name), rel
        else:
            assert rel.parts[0] == "evidence" or rel.name.startswith("hub.db"), rel

