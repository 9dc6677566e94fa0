"""The dean's tiles: one per room of their buildings, with the room's exam and time left,
the open high-severity alerts (advisory, decided and ended ones do not count), the confirmed
ones, node liveness, the last visit and by whom, the proctors on duty; the rooms that need a
visit first; the tiles' data for the page's refresh; the room's live view is read only."""

from __future__ import annotations

import re
import time

import pytest

from hub.store import rounds as store
from hub.store.alerts import acknowledge, apply_alert, decide
from hub.store.rooms import load_seatmap
from hub.store.users import get_user, set_buildings
from kuzet import contract
from kuzet_tools.bench.sim import alert_for
from tests.support.hub_env import login, read, seatmap


def alert(services, room: str, rule: str = "device", event: str = "open",
          building: str = "main") -> str:
    origin = contract.Origin(building=building, room=room, node="cam1")
    aid = contract.new_id()
    services.writer.call(lambda c: apply_alert(c, alert_for(origin, "r1s1", rule=rule,
                                                            event=event, alert_id=aid),
                                               time.time()))
    return aid


def user(services, seeded, name: str):
    return read(services, get_user, seeded.ids[name])


def tiles(services, buildings=("main",)) -> dict[str, dict]:
    return {t["room"]: t for t in read(services, store.tiles, time.time(), set(buildings))}


def test_open_high_severity_counts_only_open_undecided_non_advisory_alerts(services, seeded):
    aigerim = user(services, seeded, "aigerim")
    alert(services, "a101", "device")                               # counts
    acked = alert(services, "a101", "extra_person")                 # acknowledged: still open
    services.writer.call(acknowledge, acked, aigerim)
    alert(services, "a101", "head_turned")                          # advisory: open, not high
    dismissed = alert(services, "a101", "notes")
    services.writer.call(decide, dismissed, aigerim, "dismissed", "detection_error")
    confirmed = alert(services, "a101", "seat_vacated")
    services.writer.call(decide, confirmed, aigerim, "confirmed")
    alert(services, "a101", "device", event="close")                # the incident ended
    alert(services, "b202", "head_down_hands_low")

    t = tiles(services)
    assert (t["a101"]["high"], t["a101"]["open"], t["a101"]["confirmed"]) == (2, 3, 1)
    assert (t["b202"]["high"], t["b202"]["open"]) == (0, 1)
    assert t["a101"]["needs"][0] == "alerts" and "alerts" not in t["b202"]["needs"]


@pytest.mark.parametrize("rule", sorted(store.HIGH_SEVERITY_RULES))
def test_every_non_advisory_rule_is_high_severity(services, seeded, rule):
    alert(services, "b202", rule)
    assert tiles(services)["b202"]["high"] == 1


def test_the_tiles_rules_are_the_contracts_non_advisory_rules():
    assert set(store.HIGH_SEVERITY_RULES) == {r.value for r in contract.Rule} - {
        r.value for r in contract.ADVISORY_RULES}


def test_a_tile_names_the_exam_its_proctors_and_the_last_visit(services, seeded):
    dean = user(services, seeded, "dean")
    services.writer.call(store.log_round, dean, "main", "a101", "quiet")
    t = tiles(services)
    assert t["a101"]["title"] == "Room A101"
    assert t["a101"]["proctors"] == ["Aigerim"]             # dana's exam was yesterday
    assert 7100 < t["a101"]["exam"]["left_s"] <= 7200        # ends in two hours
    assert t["a101"]["last_visit"]["by"] == "Dean"
    assert 0 <= t["a101"]["last_visit_ago_s"] < 60
    assert t["b202"]["last_visit"] is None and t["b202"]["never_visited"]
    assert t["b202"]["needs"] == ["due"]                     # an hour into its exam, unvisited
    assert (t["b202"]["order"], t["a101"]["order"]) == (1, 2)     # the one due goes first


def test_rooms_of_other_buildings_and_rooms_without_an_exam(services, seeded):
    services.writer.call(load_seatmap, "east", "e1", seatmap("e1"), "East 1")
    alert(services, "e1", "device", building="east")
    assert "e1" not in tiles(services)                       # not the dean's building
    east = tiles(services, ("main", "east"))["e1"]
    assert east["exam"] is None and east["proctors"] == [] and east["order"] is None
    assert east["high"] == 1 and east["needs"] == ["alerts"]


def test_the_overview_shows_a_tile_per_room_linking_to_its_live_view(client, services):
    login(client, "dean")
    alert(services, "a101", "device")
    page = client.get("/dean/").text
    tiles_html = re.findall(r'<article class="(room-tile[^"]*)" data-room="([^"]+)"', page)
    assert [room for _, room in tiles_html] == ["main/a101", "main/b202"]   # open alert first
    assert "needs-visit" in tiles_html[0][0]
    first = page[page.index('data-room="main/a101"'):page.index('data-room="main/b202"')]
    assert '<a class="tile-link" href="/dean/room/main/a101">' in first
    assert '<b data-f="high">1</b>' in first
    assert "Aigerim" in first


def test_tiles_json_carries_the_counts_and_the_html(client, services):
    login(client, "dean")
    before = client.get("/dean/tiles.json").get_json()
    alert(services, "b202", "notes")
    after = client.get("/dean/tiles.json").get_json()
    by_room = {t["room"]: t for t in after["tiles"]}
    assert {t["room"]: t["high"] for t in before["tiles"]} == {"a101": 0, "b202": 0}
    assert by_room["b202"]["high"] == 1 and by_room["b202"]["needs_visit"]
    assert "exams" not in by_room["b202"]                    # the tile's fields only
    assert after["html"].index('data-room="main/b202"') < after["html"].index(
        'data-room="main/a101"')


def test_a_visit_logged_from_a_tile_returns_to_where_it_was_tapped(client, services):
    token = login(client, "dean")
    for back, where in (("overview", "/dean/"), ("room", "/dean/room/main/a101"),
                        ("rounds", "/rounds/"), ("https://evil.example/", "/dean/")):
        r = client.post("/dean/room/main/a101/round",
                        data={"csrf_token": token, "back": back, "note": " ok "})
        assert r.status_code == 302 and r.headers["Location"] == where
    visits = read(services, lambda c: c.execute("SELECT note FROM rounds").fetchall())
    assert [v[0] for v in visits] == ["ok"] * 4
    page = client.get("/dean/").text
    assert "Dean" in page[page.index('data-room="main/a101"'):]


def test_the_rounds_route_is_numbered_with_the_last_visit(client, services):
    token = login(client, "dean")
    client.post("/dean/room/main/b202/round", data={"csrf_token": token, "back": "rounds"})
    page = client.get("/rounds/").text
    order = re.findall(r'data-room="(main/\w+)" data-order="(\d)"', page)
    assert order == [("main/a101", "1"), ("main/b202", "2")]
    assert re.search(r'<nav class="route".*href="#visit-1"><span class="route-no">1</span>',
                     page, re.S)
    b202 = page[page.index('data-room="main/b202"'):]
    assert "Dean" in b202 and "<time datetime=" in b202


PROCTOR_POSTS = ("/proctor/alerts/{a}/acknowledge", "/proctor/alerts/{a}/confirm",
                 "/proctor/alerts/{a}/dismiss", "/proctor/alerts/{a}/note",
                 "/proctor/room/main/a101/seat/r1s1/present")


def test_the_deans_room_view_is_read_only(client, services):
    token = login(client, "dean")
    aid = alert(services, "a101", "device")
    page = client.get("/dean/room/main/a101").text
    assert f'data-alert="{aid}"' in page or aid in page     # the dean sees the alert
    actions = re.findall(r'<form[^>]*action="([^"]+)"', page)
    assert "/dean/room/main/a101/round" in actions           # "Log my visit"
    assert not [a for a in actions if a.startswith("/proctor/")], actions
    for path in PROCTOR_POSTS:
        r = client.post(path.format(a=aid), data={"csrf_token": token, "reason": "other",
                                                  "text": "x"})
        assert r.status_code in (403, 404), path
    assert read(services, lambda c: c.execute(
        "SELECT decision FROM alerts WHERE alert_id=?", (aid,)).fetchone()[0]) == "new"


@pytest.fixture
def quick_app(tmp_path):
    """The hub's app with a keep-alive every 0.2 s (the stream's checks come that often)."""
    from hub.services import HubServices
    from hub.web.app import create_app
    from tests.support.hub_env import make_config, seed

    config = make_config(tmp_path, sse_keepalive_s=0.2)
    services = HubServices(config).start(ingest=False)
    seeded = seed(services.writer)
    app = create_app(config, services)
    app.config["TESTING"] = True
    yield app, services, seeded
    services.stop()


def test_the_stream_says_changed_for_the_deans_buildings_only(quick_app):
    app, services, seeded = quick_app
    client = app.test_client()
    login(client, "dean")
    services.writer.call(load_seatmap, "east", "e1", seatmap("e1"), "East 1")
    r = client.get("/dean/stream", buffered=False)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    chunks = iter(r.response)
    assert b": open" in next(chunks)
    alert(services, "e1", "device", building="east")          # not the dean's building
    assert next(chunks) == b": keepalive\n\n"
    alert(services, "a101", "device")
    assert next(chunks) == b"event: changed\ndata: {}\n\n"
    services.writer.call(set_buildings, seeded.ids["dean"], [])
    assert b"event: denied" in b"".join(chunks)                # the building taken away
    r.close()
