"""The proctor's check-in at the start of an exam: the view (seat by seat, the roster photo
beside the seat's fresh crop from the node), the results stored with the exam and audited,
the headcount, the session page's record, the protocol's check-in line, the retention; only
the session's own proctor during its time (404 for another)."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from hub.retention_job import purge
from hub.store import audit as audit_store
from hub.store import check_ins, face_matches, nodes
from hub.store.alerts import apply_alert, apply_evidence
from kuzet import contract
from kuzet_tools.bench.sim import alert_for, evidence_for
from tests.support.hub_env import login, read
from tests.support.photos import put_student_with_photo

CROP = b"\xff\xd8\xff\xe0 a seat crop \xff\xd9"
ORIGIN = contract.Origin(building="main", room="a101", node="cam1")
FETCH = {"X-Requested-With": "fetch"}


def a101_session(services) -> int:
    return read(services, lambda c: c.execute(
        "SELECT s.id FROM sessions s JOIN users u ON u.id = s.proctor_id"
        " WHERE u.username = 'aigerim'").fetchone()[0])


@pytest.fixture
def exam(services, seeded):
    """aigerim's running a101 exam: three students, two seated (r1s2 with a photo; r2s3
    without), one not seated; the room's node known and online."""
    sid = a101_session(services)
    put_student_with_photo(services, sid, "S001")

    def write(c):
        for no, name in (("S002", "Әлия Нұрланқызы"), ("S003", "Бекзат Омаров")):
            c.execute("INSERT INTO students VALUES (?, ?, 'ЭЭ-21', NULL, '')", (no, name))
            c.execute("INSERT INTO session_seats (session_id, student_no) VALUES (?, ?)",
                      (sid, no))
        c.execute("UPDATE session_seats SET seat='r1s2' WHERE student_no='S001'")
        c.execute("UPDATE session_seats SET seat='r2s3' WHERE student_no='S002'")
    services.writer.call(write)
    services.writer.call(nodes.apply_status, contract.StatusMessage(
        origin=ORIGIN, state="online", since=contract.utcnow()), 1.0,
        services.config.liveness)
    return sid


def crop_comes(services, command_id: str, seated: contract.Seated | None = None) -> str:
    """The node's check-in crop for ``command_id``, stored as the ingest writer would."""
    ev = evidence_for(ORIGIN, command_id, CROP, kind="check-in").model_copy(
        update={"seated": seated or contract.Seated(seat=True, taken=2, looked=15)})
    rel = services.evidence.create(ev.evidence_id, ev.content_type, CROP)[0]
    services.writer.call(apply_evidence, ev, rel, 1.0)
    return ev.evidence_id


def login_en(client, username: str) -> str:
    """Signed in, the pages in English (the hub's default is Kazakh)."""
    token = login(client, username)
    client.post("/language", data={"csrf_token": token, "lang": "en"})
    return token


def actions(services) -> list[str]:
    return read(services, lambda c: [r["action"] for r in audit_store.entries(c, 50)])


def test_the_view_lists_seated_students_in_seat_map_order_with_photo_or_none(client, services,
                                                                             exam):
    login_en(client, "aigerim")
    page = client.get(f"/exams/{exam}/check-in")
    assert page.status_code == 200
    html = page.text
    order = re.findall(r'<article class="checkin-card" id="student-(\w+)"', html)
    assert order == ["S001", "S002"]                     # r1s2 before r2s3 on the map
    assert f"/exams/{exam}/students/S001/photo" in html  # H3's route for the photo
    s002 = html[html.index('id="student-S002"'):]
    assert "No photo" in s002[:s002.index("</article>")]
    assert 'id="student-S003"' in html and "Not seated" in html
    assert 'id="hc-seen">not known yet' in html and 'id="hc-waiting">3<' in html
    assert "checkin.view" in actions(services)


def test_a_crop_is_asked_over_the_command_topic_and_shown_with_the_seen_count(
        app, client, services, exam):
    now = [1_000_000.0]
    app.config["KUZET_CLOCK"] = lambda: now[0]
    token = login_en(client, "aigerim")
    url = f"/exams/{exam}/check-in/r1s2/crop"
    r = client.post(url, data={"csrf_token": token}, headers=FETCH)
    assert r.status_code == 503                          # no broker in this hub: recorded
    [cmd] = read(services, lambda c: c.execute(
        "SELECT msg_id, node, action, session_id, payload, published FROM commands"
        " WHERE action = 'check_in'").fetchall())
    assert (cmd["node"], cmd["session_id"], cmd["published"]) == ("cam1", exam, 0)
    sent = contract.decode(cmd["payload"].encode())
    assert sent.seat == "r1s2" and sent.session_id == str(exam)
    assert client.post(url, data={"csrf_token": token}, headers=FETCH).status_code == 429
    status = f"/exams/{exam}/check-in/crops/{cmd['msg_id']}.json"
    assert client.get(status).get_json()["ready"] is False
    crop_comes(services, cmd["msg_id"])
    body = client.get(status).get_json()
    assert body["ready"] and body["seat_taken"] is True
    assert body["headcount"]["seen"] == 2 and body["headcount"]["looked"] == 15
    with client.get(body["image"]) as image:
        assert image.data == CROP and image.headers["Cache-Control"] == "no-store"
    html = client.get(f"/exams/{exam}/check-in").text
    assert body["image"] in html and 'id="hc-seen">2<' in html
    assert "the camera sees this seat taken" in html
    assert {"checkin.crop", "checkin.crop.view"} <= set(actions(services))
    assert client.post(f"/exams/{exam}/check-in/r9s9/crop",
                       data={"csrf_token": token}).status_code == 404   # not on the map


def test_results_are_stored_audited_and_counted(app, client, services, exam):
    token = login(client, "aigerim")
    post = f"/exams/{exam}/check-in/result"
    r = client.post(post, data={"csrf_token": token, "student_no": "S001",
                                "result": "identified"}, headers=FETCH)
    assert r.status_code == 200
    assert r.get_json()["headcount"] | {} == r.get_json()["headcount"]
    count = r.get_json()["headcount"]
    assert (count["checked_in"], count["absent"], count["waiting"]) == (1, 0, 2)
    client.post(post, data={"csrf_token": token, "student_no": "S003", "result": "absent"})
    r = client.post(post, data={"csrf_token": token, "student_no": "S002", "result": "moved",
                                "moved_to": "r3s5"}, headers=FETCH)
    assert r.status_code == 200
    rows = read(services, lambda c: [dict(x) for x in check_ins.records(c, exam)])
    assert [(x["student_no"], x["seat"], x["result"], x["moved_to"], x["by_name"])
            for x in rows] == [("S001", "r1s2", "identified", None, "Aigerim"),
                               ("S003", None, "absent", None, "Aigerim"),
                               ("S002", "r2s3", "moved", "r3s5", "Aigerim")]
    seat = read(services, lambda c: c.execute(
        "SELECT seat FROM session_seats WHERE student_no='S002'").fetchone()[0])
    assert seat == "r3s5"                                # moved: seated there now
    audit = read(services, lambda c: [dict(x) for x in audit_store.entries(c, 50)])
    results = [a for a in audit if a["action"] == "checkin.result"]
    assert len(results) == 3 and {a["target"] for a in results} == {"S001", "S002", "S003"}
    count = client.get(f"/exams/{exam}/check-in/headcount.json").get_json()
    assert (count["checked_in"], count["absent"], count["moved"], count["waiting"]) \
        == (1, 1, 1, 0)
    page = client.get(f"/exams/{exam}").text              # the session page's record
    assert 'id="check-in-record"' in page and 'data-student="S002" data-result="moved"' in page
    assert "r3s5" in page and f'href="/exams/{exam}/check-in"' in page


@pytest.mark.parametrize("form, why", [
    ({"student_no": "S001", "result": "moved"}, "choose a seat"),
    ({"student_no": "S001", "result": "moved", "moved_to": "r1s2"}, "already sits there"),
    ({"student_no": "S001", "result": "moved", "moved_to": "r9s9"}, "choose a seat"),
    ({"student_no": "S001", "result": "absent", "moved_to": "r3s5"}, "only with 'moved'"),
    ({"student_no": "X999", "result": "identified"}, "not on this session's roster"),
])
def test_a_result_that_cannot_be_recorded_is_refused_and_says_why(client, services, exam,
                                                                  form, why):
    token = login(client, "aigerim")
    r = client.post(f"/exams/{exam}/check-in/result", data={"csrf_token": token, **form},
                    headers=FETCH)
    assert r.status_code == 409 and why in r.get_json()["error"]
    assert read(services, lambda c: check_ins.records(c, exam)) == []


@pytest.mark.parametrize("form", [{"student_no": "S001", "result": "verdict"},
                                  {"student_no": "S001", "result": "moved",
                                   "moved_to": "../x"}])
def test_a_bad_form_is_400(client, exam, form):
    token = login(client, "aigerim")
    assert client.post(f"/exams/{exam}/check-in/result",
                       data={"csrf_token": token, **form}).status_code == 400


def test_another_proctor_a_past_session_and_other_roles_get_404_or_403(app, client, services,
                                                                       exam):
    token = login(client, "aigerim")
    client.post(f"/exams/{exam}/check-in/r1s2/crop", data={"csrf_token": token})
    command = read(services, lambda c: c.execute(
        "SELECT msg_id FROM commands WHERE action='check_in'").fetchone()[0])
    crop_comes(services, command)
    other = app.test_client()
    other_token = login(other, "bolat")
    for url in (f"/exams/{exam}/check-in", f"/exams/{exam}/check-in/headcount.json",
                f"/exams/{exam}/check-in/crops/{command}.json",
                f"/exams/{exam}/check-in/crops/{command}.jpg"):
        assert other.get(url).status_code == 404, url
    assert other.post(f"/exams/{exam}/check-in/result", data={
        "csrf_token": other_token, "student_no": "S001", "result": "identified"}
    ).status_code == 404
    past = read(services, lambda c: c.execute(
        "SELECT s.id FROM sessions s JOIN users u ON u.id = s.proctor_id"
        " WHERE u.username = 'dana'").fetchone()[0])
    dana = app.test_client()
    login(dana, "dana")
    assert dana.get(f"/exams/{past}/check-in").status_code == 404     # her exam is over
    dean = app.test_client()
    login(dean, "dean")
    assert dean.get(f"/exams/{exam}/check-in").status_code == 403
    assert read(services, lambda c: check_ins.records(c, exam)) == []
    # nor through the evidence routes by the crop's id: a check-in crop is no alert's evidence
    evidence = read(services, lambda c: c.execute(
        "SELECT evidence_id FROM evidence WHERE kind = 'check-in'").fetchone()[0])
    for who in (dean, client):
        assert who.get(f"/evidence/file/{evidence}").status_code == 404


def _protocol_text(client, pid: int, tmp_path) -> str:
    with client.get(f"/protocols/{pid}.pdf") as r:
        (tmp_path / "p.pdf").write_bytes(r.data)
    return " ".join(subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"],
                                   capture_output=True, text=True, check=True).stdout.split())


def test_the_protocol_of_a_student_prints_their_check_in_line(client, services, exam,
                                                              tmp_path):
    token = login(client, "aigerim")
    client.post(f"/exams/{exam}/check-in/result", data={
        "csrf_token": token, "student_no": "S002", "result": "identified"})
    aid = contract.new_id()
    services.writer.call(apply_alert, alert_for(ORIGIN, "r2s3", alert_id=aid), 1.0)
    client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token})
    pid = read(services, lambda c: c.execute("SELECT id FROM protocols WHERE alert_id=?",
                                             (aid,)).fetchone()[0])
    text = _protocol_text(client, pid, tmp_path)          # kk, the default
    assert "Орында тексеру: тұлғасы расталды — r2s3, Aigerim," in text
    client.post(f"/protocols/{pid}", data={"csrf_token": token, "lang": "en"})
    assert "Check-in at the seat: identified — r2s3, Aigerim," in _protocol_text(
        client, pid, tmp_path)
    at = read(services, lambda c: c.execute("SELECT at FROM check_ins").fetchone()[0])
    local = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(
        __import__("zoneinfo").ZoneInfo(services.config.hub.timezone))
    assert local.strftime("%Y-%m-%d %H:%M") in _protocol_text(client, pid, tmp_path)


def test_a_student_never_checked_in_gets_not_recorded(client, services, exam, tmp_path):
    token = login(client, "aigerim")
    aid = contract.new_id()
    services.writer.call(apply_alert, alert_for(ORIGIN, "r1s2", alert_id=aid), 1.0)
    client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token})
    pid = read(services, lambda c: c.execute("SELECT id FROM protocols WHERE alert_id=?",
                                             (aid,)).fetchone()[0])
    assert "Орында тексеру: жазылмаған" in _protocol_text(client, pid, tmp_path)


def test_retention_purges_the_record_with_the_exam_but_what_a_protocol_holds(
        client, services, exam):
    token = login(client, "aigerim")
    for no in ("S001", "S002"):
        client.post(f"/exams/{exam}/check-in/result", data={
            "csrf_token": token, "student_no": no, "result": "identified"})
    aid = contract.new_id()
    services.writer.call(apply_alert, alert_for(ORIGIN, "r2s3", alert_id=aid), 1.0)
    client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token})   # S002's
    for seat, no in (("r1s2", "S001"), ("r2s3", "S002")):     # the face match's advice too
        services.writer.call(lambda c, seat=seat, no=no: face_matches.record(
            c, face_matches.CheckInCrop(f"ev-{no}", "f.jpg", exam, seat, no, None, None, True),
            "likely", 0.8, 0.56, "faceres", 40.0))
    ends = read(services, lambda c: c.execute("SELECT ends_at FROM sessions WHERE id=?",
                                              (exam,)).fetchone()[0])
    end = datetime.fromisoformat(ends.replace("Z", "+00:00"))
    days = services.config.retention.evidence_days
    purge(services.db_path, services.evidence, days, (end + timedelta(days=days - 1)).timestamp())
    assert len(read(services, lambda c: check_ins.records(c, exam))) == 2     # not yet
    purge(services.db_path, services.evidence, days,
          (end + timedelta(days=days, hours=1)).timestamp())
    left = read(services, lambda c: [r["student_no"] for r in check_ins.records(c, exam)])
    assert left == ["S002"]                      # held by S002's protocol in that exam
    advice = read(services, lambda c: [r["student_no"] for r in c.execute(
        "SELECT student_no FROM face_matches WHERE session_id = ?", (exam,))])
    assert advice == ["S002"]
    assert datetime.now(UTC) < end               # (the exam's end is in the future here)
