"""Ending the exam: only the running session's own proctor (or an admin) ends it, and the node
stops only the session a stop names. Attacked as a proctor would, over HTTP, on a real hub
(writer, ingest) and mosquitto, with a scripted node on the same broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.node import EdgeNode
from hub.server import HubServer
from hub.store import sessions, users
from hub.store.db import connect
from kuzet import contract
from tests.fakes.detector import ScriptedFaceDetector
from tests.support.hub_env import PASSWORD, login, make_config, seed
from tests.support.scripted_node import PhoneDetector, scripted_config
from tests.support.subscriber import Recorder
from tests.support.wait import wait_until

A101 = contract.Origin(building="main", room="a101", node="cam1")
REFUSED = "жүріп жатқан емтихан емес"       # "not the one running" (the pages are in Kazakh)


@pytest.fixture
def hub(tmp_path, broker):
    server = HubServer(make_config(tmp_path / "hub", broker.port)).start()
    assert server.services.ingest.connected.wait(10)
    seeded = seed(server.services.writer)
    later = datetime.now(UTC) + timedelta(days=3)         # a proctor whose exam is days away
    w = server.services.writer
    w.call(users.add_user, "erlan", PASSWORD, "proctor", "Erlan")
    w.call(sessions.add_session, "main", "a101", "erlan", later, later + timedelta(hours=2))
    server.seeded = seeded
    yield server
    server.stop()


@pytest.fixture
def node(tmp_path, broker):
    (tmp_path / "node").mkdir()
    cfg = scripted_config(tmp_path / "node", exam=False,
                          extra={"broker": {"host": broker.host, "port": broker.port}})
    node = EdgeNode(cfg, detector=PhoneDetector(), face_detector=ScriptedFaceDetector(),
                    blur_detector=ScriptedFaceDetector())
    node.start()
    assert wait_until(lambda: node.publisher.connected.is_set(), 10)
    yield node
    node.stop()


def node_known(hub) -> bool:
    conn = connect(hub.services.db_path, readonly=True)
    try:
        return conn.execute("SELECT 1 FROM nodes WHERE node = 'cam1'").fetchone() is not None
    finally:
        conn.close()


def session_of(hub, username: str) -> int:
    conn = connect(hub.services.db_path, readonly=True)
    try:
        return conn.execute("SELECT s.id FROM sessions s JOIN users u ON u.id = s.proctor_id"
                            " WHERE u.username = ?", (username,)).fetchone()[0]
    finally:
        conn.close()


def post(hub, username: str, url: str) -> str:
    client = hub.app.test_client()
    token = login(client, username)
    r = client.post(url, data={"csrf_token": token}, follow_redirects=True)
    assert r.status_code == 200
    return r.text


def replies(rec: Recorder) -> list[dict]:
    return [json.loads(p) for p in rec.on("reply")]


def test_another_proctor_cannot_end_the_running_exam(hub, node, broker):
    rec = Recorder(broker.host, broker.port)
    commands = Recorder(broker.host, broker.port, "kuzet/v1/main/a101/+/cmd")
    try:
        assert wait_until(lambda: node_known(hub), 10)
        running = session_of(hub, "aigerim")
        post(hub, "aigerim", f"/exams/{running}/start")
        assert wait_until(lambda: node.incidents.session_id == str(running), 10)
        assert wait_until(lambda: any(json.loads(p)["event"] == "open"
                                      for p in rec.on("alert")), 20)     # the phone is seen

        sent_before = len(commands.messages)
        for attacker in ("dana", "erlan"):     # a101's proctors: yesterday's, in three days
            page = post(hub, attacker, f"/exams/{session_of(hub, attacker)}/stop")
            assert REFUSED in page
        assert len(commands.messages) == sent_before          # nothing reached the node
        assert node.incidents.session_id == str(running)
        conn = connect(hub.services.db_path, readonly=True)
        assert conn.execute("SELECT stopped_at FROM sessions WHERE id=?",
                            (running,)).fetchone()[0] is None
        conn.close()
        # another proctor's page: the running session is not even there to stop
        r = hub.app.test_client()
        token = login(r, "bolat")
        assert r.post(f"/exams/{running}/stop", data={"csrf_token": token}).status_code == 404

        # a stop that reaches the node without naming the running session stops nothing
        hub_side = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        hub_side.connect(broker.host, broker.port)
        hub_side.loop_start()
        forged = [contract.CommandMessage(action="stop_session",
                                          session_id=str(session_of(hub, "dana"))),
                  contract.CommandMessage(action="stop_session")]      # an older hub's
        for cmd in forged:
            hub_side.publish(contract.topic(A101, "cmd"), contract.encode(cmd),
                             qos=1).wait_for_publish(5)
        ids = {c.id for c in forged}
        assert wait_until(lambda: ids <= {m["command_id"] for m in replies(rec)}, 10)
        assert all(not m["ok"] and m["detail"].startswith("refused")
                   for m in replies(rec) if m["command_id"] in ids)
        assert node.incidents.session_id == str(running)
        hub_side.loop_stop()
        hub_side.disconnect()

        post(hub, "aigerim", f"/exams/{running}/stop")                 # the real proctor
        assert wait_until(lambda: node.incidents.session_id is None, 10)
        assert commands.wait_for(lambda msgs: len(msgs) == sent_before + 3)
        stop = json.loads(commands.messages[-1][1])
        assert stop["action"] == "stop_session" and stop["session_id"] == str(running)
    finally:
        rec.close()
        commands.close()


def test_an_admin_can_end_the_running_exam_but_not_one_that_is_over(hub, node, broker):
    running = session_of(hub, "aigerim")
    assert wait_until(lambda: node_known(hub), 10)
    post(hub, "aigerim", f"/exams/{running}/start")
    assert wait_until(lambda: node.incidents.session_id == str(running), 10)
    assert REFUSED in post(hub, "admin", f"/exams/{session_of(hub, 'dana')}/stop")
    assert node.incidents.session_id == str(running)
    post(hub, "admin", f"/exams/{running}/stop")
    assert wait_until(lambda: node.incidents.session_id is None, 10)

