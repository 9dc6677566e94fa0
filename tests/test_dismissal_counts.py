"""The proctors' dismissal reasons are stored with the alert and counted per rule and per
(room, rule, reason): on the technician's and admin's page, as JSON, and by
``kuzet hub dismissals --json`` for the detection work."""

from __future__ import annotations

import json

from hub.store.dismissals import dismissal_counts
from kuzet_tools.cli import main
from tests.support.hub_env import login, read
from tests.test_seat_page import put_alert


def _decide(client, token, aid: str, how: str) -> None:
    if how == "confirmed":
        r = client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token})
    else:
        r = client.post(f"/proctor/alerts/{aid}/dismiss", data={"csrf_token": token,
                                                                "reason": how})
    assert r.status_code == 302


def _seed_decisions(client, services) -> None:
    """a101: five device alerts (two detection errors, one allowed aid, one confirmed, one
    undecided) and two outsider alerts dismissed because the proctor stood there."""
    token = login(client, "aigerim")
    for how in ("detection_error", "detection_error", "allowed_aid", "confirmed", None):
        aid = put_alert(services, "r1s1", "device", picture=False)
        if how:
            _decide(client, token, aid, how)
    for _ in range(2):
        _decide(client, token, put_alert(services, "r2s3", "outsider_near_seat",
                                         picture=False), "proctor_nearby")


def test_reasons_are_stored_and_counted(client, services):
    _seed_decisions(client, services)
    counts = read(services, dismissal_counts)
    rooms = {(c.building, c.room, c.rule, c.reason): c.count for c in counts.by_room}
    assert rooms == {("main", "a101", "device", "detection_error"): 2,
                     ("main", "a101", "device", "allowed_aid"): 1,
                     ("main", "a101", "outsider_near_seat", "proctor_nearby"): 2}
    device = next(t for t in counts.by_rule if t.rule == "device")
    assert (device.alerts, device.confirmed, device.dismissed) == (5, 1, 3)
    assert device.reasons == {"detection_error": 2, "allowed_aid": 1}
    assert device.dismissed_share == 0.75               # 3 of the 4 decided
    assert [t.rule for t in counts.by_rule] == ["device", "outsider_near_seat"]
    assert read(services, dismissal_counts, ["east"]).by_rule == []


def test_the_page_is_the_technicians_and_admins_not_the_proctors(client, services):
    _seed_decisions(client, services)
    for user in ("tech", "admin"):
        c = client.application.test_client()
        login(c, user)
        page = c.get("/detection/dismissals")
        assert page.status_code == 200
        assert 'data-room="main/a101" data-rule="device" data-reason="detection_error"' \
            "><td>main · a101</td>" in page.text
        assert "/detection/dismissals" in c.get("/tech/" if user == "tech" else "/admin/").text
        body = c.get("/detection/dismissals?format=json").get_json()
        assert body["by_rule"][0]["reasons"] == {"detection_error": 2, "allowed_aid": 1}
    for user in ("aigerim", "dean"):
        c = client.application.test_client()
        login(c, user)
        assert c.get("/detection/dismissals").status_code == 403


def test_the_cli_prints_the_counts_as_json(client, services, hub_config, tmp_path,
                                           monkeypatch, capsys):
    _seed_decisions(client, services)
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndata_dir = "{hub_config.hub.data_dir}"\n')
    monkeypatch.setenv("KUZET_HUB_SECRET_KEY", "k" * 40)
    capsys.readouterr()
    assert main(["hub", "dismissals", "--config", str(config), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reasons"][:2] == ["allowed_aid", "detection_error"]
    assert {"building": "main", "room": "a101", "rule": "outsider_near_seat",
            "reason": "proctor_nearby", "count": 2} in out["by_room"]
    assert out["by_rule"][0] == {"rule": "device", "alerts": 5, "confirmed": 1, "dismissed": 3,
                                 "reasons": {"detection_error": 2, "allowed_aid": 1},
                                 "dismissed_share": 0.75}
    assert main(["hub", "dismissals", "--config", str(config)]) == 0
    assert "detection_error 2" in capsys.readouterr().out
