"""The campus hub (``hub.role = "campus"``, docs/campus.md): the buildings' bridged alerts
and statuses through the hub's own ingest and writer, the refusals, the pages for deans and
the academic office, read only, and no evidence anywhere on the campus.

Flask test client and real SQLite; messages go through the campus ingest's own callback as
the campus broker would hand them over (tests/support/campus_env.py)."""

from __future__ import annotations

import time

import pytest

from hub.config import parse_config
from hub.store.db import connect
from kuzet import contract
from kuzet.errors import ConfigError
from tests.support.campus_env import (
    HUBS,
    alert,
    campus_ingest,
    deliver,
    make_campus_config,
    origin,
    seed_campus,
    status,
)
from tests.support.hub_env import PASSWORD, csrf_from, login

MAIN, EAST = origin("main", "a101"), origin("east", "e1")


@pytest.fixture
def campus(tmp_path):
    from hub.services import HubServices
    from hub.web.app import create_app

    config = make_campus_config(tmp_path)
    services = HubServices(config).start(ingest=False)
    seed_campus(services.writer)
    app = create_app(config, services)
    app.config["TESTING"] = True
    yield app, services, campus_ingest(services)
    services.stop()


def rows(services, sql, *args):
    conn = connect(services.db_path, readonly=True)
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def two_buildings(ingest):
    deliver(ingest, contract.campus_topic(MAIN, "status"), status(MAIN))
    deliver(ingest, contract.campus_topic(EAST, "status"), status(EAST, "degraded", None))
    deliver(ingest, contract.campus_topic(MAIN, "alert"), alert(MAIN, "mainalert001"))
    deliver(ingest, contract.campus_topic(EAST, "alert"),
            alert(EAST, "eastalert001", rule="seat_vacated"))


# -- config and topics -----------------------------------------------------------------------
def test_a_campus_hub_is_configured_with_its_buildings_hubs(tmp_path):
    config = make_campus_config(tmp_path)
    assert config.is_campus and config.broker.topic == "campus/v1/#"
    assert config.campus.hub_url("east") == "https://hub.east.example:8443"
    base = {"hub": {"role": "campus"}}
    bad = [
        ({}, "needs [campus.buildings"),
        ({"campus": {"buildings": {"main": {"url": "http://hub.main.example"}}}}, "https"),
        ({"campus": {"buildings": {"main": {"url": "ftp://x"}}}}, "not a hub address"),
        ({"campus": {"buildings": {"main": {"url": "https://x/?a=1"}}}}, "no query"),
        ({"campus": {"buildings": {"a b": {"url": "https://x"}}}}, "as in the topics"),
        ({"campus": {"buildings": {"main": {"url": "https://x"}}},
          "broker": {"topic": "kuzet/v1/#"}}, "subscribes 'campus/v1/#'"),
        ({"campus": {"buildings": {"main": {"url": "https://x"}}},
          "provisioning": {"enabled": True}}, "enrols no nodes"),
    ]
    for extra, words in bad:
        with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("?", r"\?")):
            parse_config({**base, **extra})
    with pytest.raises(ConfigError, match="is for a campus hub"):
        parse_config({"campus": {"buildings": {"main": {"url": "https://x"}}}})


def test_campus_topics_carry_only_alerts_and_statuses():
    assert contract.campus_topic(MAIN, "alert") == "campus/v1/main/a101/cam1/alert"
    assert contract.parse_campus_topic("campus/v1/main/a101/cam1/status") == (MAIN, "status")
    for bad in ("campus/v1/main/a101/cam1/evidence", "campus/v1/main/a101/cam1/cmd",
                "kuzet/v1/main/a101/cam1/alert", "campus/v1/main/a101/alert",
                "campus/v1/ma+in/a101/cam1/alert"):
        with pytest.raises(contract.ContractError):
            contract.parse_campus_topic(bad)
    with pytest.raises(ValueError):
        contract.campus_topic(MAIN, "evidence")


# -- ingest ----------------------------------------------------------------------------------
def test_bridged_alerts_and_statuses_are_stored_as_the_writer_applies_them(campus):
    _, services, ingest = campus
    two_buildings(ingest)
    assert rows(services, "SELECT alert_id, building, room, rule, status FROM alerts"
                " ORDER BY alert_id") == [("eastalert001", "east", "e1", "seat_vacated", "open"),
                                          ("mainalert001", "main", "a101", "device", "open")]
    assert rows(services, "SELECT building, liveness, status_session FROM nodes"
                " ORDER BY building") == [("east", "degraded", None), ("main", "online", "1")]
    assert (ingest.received, ingest.invalid) == (4, 0)


def test_a_nodes_health_is_its_status_word_silence_is_not_offline(campus):
    """No heartbeat crosses to the campus: an hour later the node is still what it said."""
    _, services, ingest = campus
    deliver(ingest, contract.campus_topic(MAIN, "status"), status(MAIN))
    w = services.writer
    w.clock, w._last_sweep = (lambda: time.time() + 3600), 0.0     # the next batch sweeps
    w.call(lambda conn: None)
    assert rows(services, "SELECT liveness FROM nodes") == [("online",)]
    deliver(ingest, contract.campus_topic(MAIN, "status"), status(MAIN, "offline"))
    assert rows(services, "SELECT liveness, liveness_reasons FROM nodes") == \
        [("offline", '["node_offline"]')]


def test_a_message_of_another_building_is_refused_counted_and_logged(campus, caplog):
    _, services, ingest = campus
    spoof = alert(MAIN, "spoofalert01")                     # main's alert, on east's topic
    deliver(ingest, "campus/v1/east/a101/cam1/alert", spoof)
    assert (ingest.invalid, ingest.spoofed) == (1, 1)
    assert rows(services, "SELECT COUNT(*) FROM alerts") == [(0,)]
    [(topic, reason)] = rows(services, "SELECT topic, reason FROM rejected")
    assert topic == "campus/v1/east/a101/cam1/alert"
    assert "building 'main' on building 'east'" in reason
    assert "building 'main' on building 'east'" in caplog.text


@pytest.mark.parametrize("topic, words", [
    ("campus/v1/main/a101/cam1/evidence", "does not cross to the campus"),
    ("campus/v1/west/a101/cam1/alert", "not one of the campus's"),
    ("campus/v1/main/b202/cam1/alert", "does not match topic"),     # another room's alert
])
def test_other_kinds_unknown_buildings_and_wrong_rooms_are_refused(campus, topic, words):
    _, services, ingest = campus
    deliver(ingest, topic, alert(origin("main", "a101"), "refusedalert"))
    assert ingest.invalid == 1 and ingest.spoofed == 0
    assert rows(services, "SELECT COUNT(*) FROM alerts") == [(0,)]
    assert words in rows(services, "SELECT reason FROM rejected")[0][0]


def test_a_message_delivered_twice_is_stored_once_and_a_late_update_never_reopens(campus):
    _, services, ingest = campus
    topic = contract.campus_topic(MAIN, "alert")
    opened = alert(MAIN, "twicealert01", duration_s=5)
    deliver(ingest, topic, opened)
    deliver(ingest, topic, opened)                          # QoS 1 may deliver it again
    assert services.writer.duplicates == 1
    assert rows(services, "SELECT version, status FROM alerts") == [(1, "open")]
    deliver(ingest, topic, alert(MAIN, "twicealert01", "close", duration_s=30,
                                 started=opened.started_at))
    deliver(ingest, topic, alert(MAIN, "twicealert01", "update", duration_s=20,
                                 started=opened.started_at))   # late, after the close
    assert rows(services, "SELECT status, duration_s FROM alerts") == [("closed", 30.0)]


# -- pages -----------------------------------------------------------------------------------
def _tiles(client) -> dict[str, dict]:
    r = client.get("/campus/tiles.json")
    assert r.status_code == 200
    return {f"{t['building']}/{t['room']}": t for t in r.json["tiles"]}


def test_the_overview_shows_both_buildings_rooms_as_tiles(campus):
    app, _, ingest = campus
    two_buildings(ingest)
    client = app.test_client()
    login(client, "office")
    assert client.get("/").headers["Location"].endswith("/campus/")
    page = client.get("/campus/").text
    assert 'data-room="main/a101"' in page and 'data-room="east/e1"' in page
    assert "/campus/incidents?building=main&amp;room=a101" in page
    assert "Log my visit" not in page and 'method="post" action="/dean' not in page
    tiles = _tiles(client)
    assert tiles["main/a101"]["high"] == 1 and tiles["main/a101"]["node_session"]
    assert tiles["east/e1"]["health"] == "degraded" and not tiles["east/e1"]["node_session"]


def test_deans_see_their_buildings_and_the_office_sees_all(campus):
    app, _, ingest = campus
    two_buildings(ingest)
    seen = {}
    for user in ("dean", "east_dean", "both_dean", "office"):
        client = app.test_client()
        login(client, user)
        incidents = client.get("/campus/incidents.json").json["incidents"]
        nodes = client.get("/campus/nodes").text
        seen[user] = (sorted(_tiles(client)), sorted(a["building"] for a in incidents),
                      "main/a101/cam1" in nodes, "east/e1/cam1" in nodes)
        own = "main" if user == "dean" else "east"
        other = "east" if user == "dean" else "main"
        if user in ("dean", "east_dean"):
            assert client.get(f"/campus/incidents?building={other}").status_code == 404
            assert client.get(f"/campus/incidents?building={own}").status_code == 200
    assert seen == {
        "dean": (["main/a101"], ["main"], True, False),
        "east_dean": (["east/e1"], ["east"], False, True),
        "both_dean": (["east/e1", "main/a101"], ["east", "main"], True, True),
        "office": (["east/e1", "main/a101"], ["east", "main"], True, True),
    }


def test_incidents_come_by_severity_and_link_to_the_building_hubs_evidence(campus):
    app, _, ingest = campus
    two_buildings(ingest)
    client = app.test_client()
    login(client, "office")
    incidents = client.get("/campus/incidents.json").json["incidents"]
    assert [(a["alert_id"], a["evidence_url"]) for a in incidents] == [
        ("mainalert001", f"{HUBS['main']}/evidence/alert/mainalert001"),   # device first
        ("eastalert001", f"{HUBS['east']}/evidence/alert/eastalert001")]   # then seat left
    page = client.get("/campus/incidents").text
    assert page.index("sev-device") < page.index("sev-seat_left")
    assert f'href="{HUBS["main"]}/evidence/alert/mainalert001"' in page
    room = client.get("/campus/incidents?building=main&room=a101").text
    assert f'href="{HUBS["main"]}/dean/room/main/a101"' in room
    assert "eastalert001" not in room
    route = client.get("/campus/rounds").text
    assert f'href="{HUBS["east"]}/dean/room/east/e1"' in route


def test_the_campus_keeps_no_evidence(campus, tmp_path):
    """An alert names its evidence; the campus stores the names only, never a file, and an
    evidence message is refused at the door."""
    _, services, ingest = campus
    ref = contract.EvidenceRef(evidence_id="evid00000001", kind="snapshot", sha256="0" * 64,
                               size=90_000)
    deliver(ingest, contract.campus_topic(MAIN, "alert"),
            alert(MAIN, "withevidence", evidence=[ref]))
    evidence = contract.EvidenceMessage(
        origin=MAIN, alert_id="withevidence", evidence_id="evid00000001", kind="snapshot",
        content_type="image/jpeg", sha256="0" * 64, size=3, data="AAAA",
        captured_at=contract.utcnow())
    deliver(ingest, "campus/v1/main/a101/cam1/evidence", evidence)
    assert ingest.invalid == 1
    assert rows(services, "SELECT COUNT(*) FROM evidence") == [(0,)]
    folder = services.config.hub.evidence_path
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def test_the_campus_is_read_only_and_has_no_building_pages(campus):
    app, _, ingest = campus
    two_buildings(ingest)
    posts = sorted(r.endpoint for r in app.url_map.iter_rules() if "POST" in (r.methods or ()))
    assert posts == ["account.password", "auth.language", "auth.login", "auth.logout"]
    client = app.test_client()
    token = login(client, "office")
    for url in ("/proctor/alerts/mainalert001/confirm", "/proctor/alerts/mainalert001/dismiss",
                "/dean/room/main/a101/round"):
        assert client.post(url, data={"csrf_token": token}).status_code == 404
    for url in ("/evidence/alert/mainalert001", "/dean/", "/technician/nodes", "/admin/"):
        assert client.get(url).status_code == 404


def test_other_roles_have_no_home_on_the_campus(campus):
    app, _, _ = campus
    for user in ("aigerim", "admin"):
        client = app.test_client()
        token = csrf_from(client.get("/login").text)
        r = client.post("/login", data={"username": user, "password": PASSWORD,
                                        "csrf_token": token})
        assert r.status_code == 403 and "/campus/" not in r.text
        assert client.get("/").status_code == 403
        assert client.get("/campus/").status_code == 403
