"""The room page as a triage, over HTTP with the Flask test client on the real writer and
SQLite: open incidents first in severity order, one row each with its why and a link to the
seat; decided and closed ones counted in the history; the feed JSON a reconnecting page
reloads carries all of it; the dean's view of the same page has no action."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hub.store import alerts
from hub.web.live import OPEN_SHOWN
from kuzet import contract
from kuzet_tools.bench.sim import alert_for
from tests.support.hub_env import login, read

A101 = contract.Origin(building="main", room="a101", node="cam1")


def put(services, seat, rule, minutes_ago, event="open"):
    msg = alert_for(A101, seat, rule, event=event,
                    started_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
                    duration_s=minutes_ago * 60.0)
    services.writer.call(lambda c: alerts.apply_alert(c, msg, 1.0))
    return msg.alert_id


def open_rows(html: str) -> list[str]:
    section = html.split('id="open-list"')[1].split("</ol>")[0]
    return re.findall(r'<li class="incident[^"]*" data-alert="([0-9a-f]+)"', section)


def test_open_incidents_lead_worst_first_with_their_why(client, services):
    left = put(services, "r2s1", "seat_vacated", 20)
    turn = put(services, "r1s4", "head_turned", 30)
    phone = put(services, "r2s3", "device", 3)
    crowd = put(services, None, "room_overcrowded", 5)
    notes = put(services, "r1s2", "notes", 8)
    gone = put(services, "r3s3", "device", 40, event="close")
    login(client, "aigerim")
    html = client.get("/proctor/room/main/a101").text
    assert open_rows(html) == [phone, notes, crowd, left, turn]
    row = html.split(f'data-alert="{phone}"')[1].split("</li>")[0]
    assert "Әлия Нұрланқызы" in row                                 # the seat's student
    assert "4.1" in row and 'data-f="score">0.80<' in row and 'data-f="duration"' in row
    assert 'href="/proctor/room/main/a101/seat/r2s3"' in row       # the seat's page
    assert row.count("<button") == 1                                 # "On it", nothing more
    whole_room = html.split(f'data-alert="{crowd}"')[1].split("</li>")[0]
    assert f'href="/evidence/alert/{crowd}"' in whole_room           # no seat: the evidence
    history = html.split('id="history-list"')[1].split("</ol>")[0]
    assert gone in history and phone not in history
    assert 'data-count-outcome="unreviewed">1<' in html


def test_decided_incidents_leave_the_open_list_and_are_counted(client, services, seeded):
    from hub.store import users

    phone = put(services, "r2s3", "device", 3)
    notes = put(services, "r1s2", "notes", 8)
    proctor = read(services, lambda c: users.get_user(c, users.id_of(c, "aigerim")))
    services.writer.call(alerts.decide, phone, proctor, "confirmed")
    services.writer.call(alerts.decide, notes, proctor, "dismissed", "allowed_aid")
    login(client, "aigerim")
    html = client.get("/proctor/room/main/a101").text
    assert open_rows(html) == []
    assert re.search(r'id="open-empty"\s*>', html)                    # "all quiet" shows
    assert 'data-count-outcome="confirmed">1<' in html
    assert 'data-count-outcome="dismissed">1<' in html
    assert 'data-count-rule="device">1<' in html
    assert re.search(r'<g class="seat confirmed" data-seat="r2s3">', html)


def test_the_feed_carries_every_open_incident_and_the_counts(client, services):
    ids = [put(services, f"r{i % 3 + 1}s{i % 5 + 1}", "device", i + 1)
           for i in range(OPEN_SHOWN + 6)]
    closed = [put(services, "r1s1", "notes", 10 + i, event="close") for i in range(40)]
    login(client, "aigerim")
    html = client.get("/proctor/room/main/a101").text
    assert len(open_rows(html)) == OPEN_SHOWN + 6
    hidden = re.findall(r'<li class="incident[^>]*data-alert="([0-9a-f]+)"[^>]* hidden>', html)
    assert hidden == list(reversed(ids))[OPEN_SHOWN:]              # the least, past the cap
    assert "Тағы ашық оқиғалар: 6" in html                          # "and 6 more"
    feed = client.get("/live/main/a101/alerts.json").json
    assert [a["alert_id"] for a in feed["open"]] == list(reversed(ids))     # oldest first
    assert feed["counts"]["total"] == 40 and feed["counts"]["open"] == len(ids)
    assert feed["counts"]["by_rule"] == {"notes": 40}
    assert len(feed["history"]) == 30 and {a["alert_id"] for a in feed["history"]} < set(closed)
    assert len(feed["alerts"]) == len(ids) + 30
    assert feed["seat_states"]["r1s1"] == "alert" and feed["now"] > 0


def test_the_deans_view_has_no_action(client, services):
    phone = put(services, "r2s3", "device", 3)
    login(client, "dean")
    html = client.get("/dean/room/main/a101").text
    assert phone in open_rows(html)
    assert "/acknowledge" not in html and "attention.js" not in html
    row = html.split(f'data-alert="{phone}"')[1].split("</li>")[0]
    assert f'href="/evidence/alert/{phone}"' in row                  # read-only evidence
    assert "seat-link" not in html
