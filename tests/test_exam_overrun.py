"""An exam that runs past its scheduled end is still its proctor's: while it is the session
running in its room (started, not stopped), its window reaches to now, so its new alerts and
their evidence stay on its proctor's pages; once it is stopped, the window is the schedule
again. Over HTTP with the Flask test client on the real writer and SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.store import sessions
from hub.store.alerts import apply_alert, apply_evidence
from kuzet import contract
from kuzet_tools.bench.sim import alert_for, evidence_for
from tests.support.hub_env import login, seed

JPEG = b"\xff\xd8\xff\xe0jpeg\xff\xd9"
A101 = contract.Origin(building="main", room="a101", node="cam1")


@pytest.fixture
def seeded(services):
    return seed(services.writer, a101_now=False)


@pytest.fixture
def overrun(services, seeded):
    """aigerim's a101 exam, scheduled to end a minute ago, started and still running."""
    now = datetime.now(UTC)
    sid = services.writer.call(sessions.add_session, "main", "a101", "aigerim",
                               now - timedelta(hours=3), now - timedelta(minutes=1))
    services.writer.call(sessions.set_running, sid, True, [])
    return sid


def put(services, session_id: str) -> tuple[str, str]:
    """An alert the node raises now (after the scheduled end) with its snapshot."""
    aid = contract.new_id()
    ev = evidence_for(A101, aid, JPEG)
    relative, _ = services.evidence.create(ev.evidence_id, ev.content_type, JPEG)
    msg = alert_for(A101, "r2s3", alert_id=aid, evidence=[ev]).model_copy(
        update={"session_id": session_id})
    services.writer.call(lambda c: apply_alert(c, msg, 1.0)
                         and apply_evidence(c, ev, relative, 1.0))
    return aid, ev.evidence_id


def test_an_exam_running_past_its_end_keeps_its_alerts_on_its_proctors_pages(
        client, services, overrun):
    named = put(services, str(overrun))
    unnamed = put(services, "exam-1")         # a node that named no session the hub knows
    login(client, "aigerim")
    assert client.get("/proctor/room/main/a101").status_code == 200
    feed = client.get("/live/main/a101/alerts.json").json
    assert {a["alert_id"] for a in feed["alerts"]} == {named[0], unnamed[0]}
    for aid, ev in (named, unnamed):
        assert client.get(f"/evidence/alert/{aid}").status_code == 200
        with client.get(f"/evidence/file/{ev}") as r:
            assert r.status_code == 200


def test_once_stopped_the_overrun_exam_is_the_schedule_again(client, services, overrun):
    aid, ev = put(services, str(overrun))
    services.writer.call(sessions.stop_running, overrun, [])
    login(client, "aigerim")
    assert client.get("/proctor/room/main/a101").status_code == 404
    assert client.get(f"/evidence/alert/{aid}").status_code == 404
    with client.get(f"/evidence/file/{ev}") as r:
        assert r.status_code == 404
