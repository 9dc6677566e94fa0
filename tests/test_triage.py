"""The room page's triage: which open incident comes first (hub.triage), which clause of the
regulation each rule checks and its words in three languages, and the store's reads behind
the page: the open incidents in that order, the history's counts over the whole exam (not a
list's), the seats' states. Real SQLite through the hub's writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub import triage
from hub.store import alerts
from hub.store.users import User
from kuzet import contract
from kuzet_tools.bench.sim import alert_for
from tests.support.hub_env import read

A101 = contract.Origin(building="main", room="a101", node="cam1")
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def view(rule: str, started_min: int = 0, alert_id: str | None = None, **extra) -> dict:
    return {"alert_id": alert_id or f"{rule}-{started_min}", "rule": rule, "status": "open",
            "decision": "new", "started_at": (T0 + timedelta(minutes=started_min)).isoformat(),
            "score": 0.8, "duration_s": 60.0, **extra}


# -- the pure module ----------------------------------------------------------------------------
def test_every_rule_of_the_contract_has_a_severity_and_a_clause():
    for rule in contract.Rule:
        assert triage.group(rule) in triage.SEVERITY
        assert triage.clause(rule) in triage.CLAUSES


@pytest.mark.parametrize("rule, group, clause", [
    ("device", "device", "no_devices"),
    ("notes", "notes", "no_aids"),
    ("extra_person", "outside_help", "no_help"),
    ("outsider_near_seat", "outside_help", "no_help"),
    ("room_overcrowded", "outside_help", "no_help"),
    ("seat_vacated", "seat_left", "stay_in_view"),
    ("head_turned", "advisory", "no_help"),
    ("head_down_hands_low", "advisory", "no_devices"),
])
def test_rule_groups_and_clauses(rule, group, clause):
    assert (triage.group(rule), triage.clause(rule)) == (group, clause)


def test_an_unknown_rule_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown rule 'juggling'"):
        triage.rank("juggling")


def test_the_worst_rule_comes_first_then_the_longest_running():
    found = [view("head_turned", 0), view("seat_vacated", 5), view("device", 20),
             view("notes", 1), view("extra_person", 3), view("device", 2),
             view("room_overcrowded", 1), view("head_down_hands_low", -10)]
    assert [(a["rule"], a["alert_id"]) for a in triage.order(found)] == [
        ("device", "device-2"), ("device", "device-20"), ("notes", "notes-1"),
        ("room_overcrowded", "room_overcrowded-1"), ("extra_person", "extra_person-3"),
        ("seat_vacated", "seat_vacated-5"),
        ("head_down_hands_low", "head_down_hands_low--10"), ("head_turned", "head_turned-0")]


def test_same_start_is_ordered_by_id_so_the_order_is_stable():
    a, b = view("device", 0, alert_id="b"), view("device", 0, alert_id="a")
    assert [x["alert_id"] for x in triage.order([a, b])] == ["a", "b"]


@pytest.mark.parametrize("status, decision, is_open, outcome", [
    ("open", "new", True, "unreviewed"),
    ("open", "acknowledged", True, "unreviewed"),
    ("open", "confirmed", False, "confirmed"),          # decided but running: history
    ("open", "dismissed", False, "dismissed"),
    ("closed", "new", False, "unreviewed"),
    ("closed", "acknowledged", False, "unreviewed"),
    ("closed", "confirmed", False, "confirmed"),
])
def test_open_or_history(status, decision, is_open, outcome):
    a = view("device", status=status, decision=decision)
    assert triage.is_open(a) is is_open
    assert triage.outcome(a) == outcome


def test_why_names_rule_clause_score_and_duration():
    assert triage.why(view("notes", score=0.91, duration_s=75.0)) == {
        "rule": "notes", "group": "notes", "clause": "no_aids", "score": 0.91,
        "duration_s": 75.0}


def test_the_page_gets_the_same_order():
    js = triage.as_json()
    assert js["severity"] == list(triage.SEVERITY)
    assert js["rules"]["device"] == {"group": "device", "rank": 0, "clause": "no_devices"}
    assert js["rules"]["head_turned"]["rank"] == len(triage.SEVERITY) - 1


@pytest.mark.parametrize("lang, words", [
    ("en", "4.1 no phone, tablet, calculator"),
    ("ru", "телефон"),
    ("kk", "телефон"),
])
def test_clause_words_are_translated(hub_config, services, lang, words):
    from flask_babel import force_locale

    from hub.web import labels
    from hub.web.app import create_app

    app = create_app(hub_config, services)
    with app.test_request_context(), force_locale(lang):
        text = {k: str(v) for k, v in labels.CLAUSES.items()}
        assert set(text) == set(triage.CLAUSES)
        assert words in text["no_devices"].lower() or words in text["no_devices"]
        if lang != "en":
            assert all(any("\u0400" <= ch <= "\u04ff" for ch in t) for t in text.values()), text
        assert str(labels.OUTCOMES["unreviewed"])


# -- the store's reads --------------------------------------------------------------------------
def _put(services, seat, rule, minutes_ago, event="open", decision=None, reason=None):
    started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    msg = alert_for(A101, seat, rule, event=event, started_at=started,
                    duration_s=minutes_ago * 60.0)
    services.writer.call(lambda c: alerts.apply_alert(c, msg, 1.0))
    if decision == "acknowledged":
        services.writer.call(alerts.acknowledge, msg.alert_id, _proctor(services))
    elif decision:
        services.writer.call(alerts.decide, msg.alert_id, _proctor(services), decision, reason)
    return msg.alert_id


def _proctor(services) -> User:
    from hub.store import users
    return read(services, lambda c: users.get_user(c, users.id_of(c, "aigerim")))


def test_open_incidents_in_triage_order_and_history_counted_over_all(services, seeded):
    ids = {
        "phone": _put(services, "r1s1", "device", 2),
        "notes_old": _put(services, "r1s2", "notes", 9),
        "notes_new": _put(services, "r1s3", "notes", 1, decision="acknowledged"),
        "left": _put(services, "r2s1", "seat_vacated", 30),
        "turn": _put(services, None, "room_overcrowded", 4),
        "confirmed_open": _put(services, "r2s2", "device", 5, decision="confirmed"),
    }
    last = None
    for i in range(35):                      # more history than the page lists
        last = _put(services, f"r3s{i % 5 + 1}", ("head_turned", "notes", "seat_vacated")[i % 3],
             40 + i, event="close",
             decision=(None, "dismissed", "confirmed")[i % 3] if i % 7 else None,
             reason="detection_error")
    open_ = read(services, alerts.open_alerts, "main", "a101")
    assert [a["alert_id"] for a in open_] == [ids["phone"], ids["notes_old"], ids["notes_new"],
                                              ids["turn"], ids["left"]]
    history = read(services, alerts.history_alerts, "main", "a101", None, 30)
    assert len(history) == 30 and history[0]["alert_id"] == last     # the latest to end first
    everything = read(services, alerts.history_alerts, "main", "a101", None, 100)
    assert len(everything) == 36 and ids["confirmed_open"] in {a["alert_id"] for a in everything}
    counts = read(services, alerts.history_counts, "main", "a101")
    assert counts["total"] == 36 and counts["open"] == 5
    assert counts["by_rule"] == {"device": 1, "notes": 12, "seat_vacated": 11, "head_turned": 12}
    assert list(counts["by_rule"]) == ["device", "notes", "seat_vacated", "head_turned"]
    # i % 7 == 0 (i = 0, 7, ..., 28: 5 of them) closed undecided; else i % 3 picks
    undecided = [i for i in range(35) if not i % 7 or i % 3 == 0]
    confirmed = [i for i in range(35) if i % 7 and i % 3 == 2]
    assert counts["by_outcome"] == {"confirmed": len(confirmed) + 1,
                                    "dismissed": 35 - len(undecided) - len(confirmed),
                                    "unreviewed": len(undecided)}
    states = read(services, alerts.room_seat_states, "main", "a101")
    assert states["r1s1"] == states["r1s3"] == states["r2s1"] == "alert"
    assert states["r2s2"] == "confirmed"
    assert "r9s9" not in states


def test_the_reads_keep_to_the_sessions_given(services, seeded):
    _put(services, "r1s1", "device", 2)
    _put(services, "r1s2", "notes", 50, event="close")
    assert read(services, alerts.open_alerts, "main", "a101", set()) == []
    assert read(services, alerts.history_counts, "main", "a101", set())["total"] == 0
    assert read(services, alerts.room_seat_states, "main", "a101", set()) == {}
