"""The automatic 1:1 face match at check-in, opt-in per exam, advice only: the session's flag
(set before the start, sent to the nodes), and each check-in crop compared on the hub with the
seat's student's roster photo by the real face models, on real faces (the face set's samples:
the same person in two frames of a CC BY 4.0 clip, another person beside them)."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest

from hub import face_match, faces
from hub.store import audit, check_ins, face_matches
from hub.store import sessions as session_store
from kuzet import contract
from tests.support.hub_env import login, read
from tests.support.photos import put_student_with_photo

NODE = contract.Origin(building="main", room="a101", node="cam1")
SEAT = "r1s2"


def a101_session(services) -> int:
    return read(services, lambda c: c.execute(
        "SELECT s.id FROM sessions s JOIN users u ON u.id = s.proctor_id"
        " WHERE s.room='a101' AND u.username='aigerim'").fetchone()[0])


@pytest.fixture(scope="module")
def face_jpegs():
    """JPEGs cut from the face set as the hub gets them (a seat-sized crop around the face):
    the same man 3 s apart in the Intel clip, the woman of the same clip, and a cat."""
    from kuzet_tools.models.face_sets import context_box, image_of, load_samples
    from tests.support.photos import real_photo

    samples = load_samples()

    def cut(sample) -> bytes:
        image = image_of(sample)
        x1, y1, x2, y2 = context_box(sample.box, image.shape, 3.0)
        ok, data = cv2.imencode(".jpg", image[y1:y2, x1:x2])
        assert ok
        return data.tobytes()

    def of(person: str, track_part: str = "footage"):
        return sorted((s for s in samples if s.person == person and s.part == track_part),
                      key=lambda s: (s.track or "", s.t or 0))

    man = of("intel-man")
    woman = of("intel-woman")
    assert len(man) >= 4 and woman
    return {"man": cut(man[0]), "man_later": cut(man[3]), "woman": cut(woman[0]),
            "cat": real_photo("chelsea")}


def check_in(services, session_id: int, crop: bytes) -> str:
    """The proctor's check_in command for SEAT recorded, and the node's crop under its id
    coming in through the writer (as the ingest hands it over). Returns the crop's id."""
    [(_, _, msg_id)] = services.writer.call(check_ins.ask, NODE, session_id, SEAT, 1)
    ev = contract.EvidenceMessage(
        origin=NODE, alert_id=msg_id, evidence_id=contract.new_id(), kind="check-in",
        content_type="image/jpeg", sha256=__import__("hashlib").sha256(crop).hexdigest(),
        size=len(crop), captured_at=contract.utcnow(), data="")
    services.writer.submit_message(contract.topic(NODE, "evidence"), ev, crop)
    return ev.evidence_id


def advice(services, evidence_id: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = read(services, face_matches.for_evidence, evidence_id)
        if row is not None:
            return row
        time.sleep(0.05)
    return None


def seated_with_photo(services, photo: bytes, *, opted_in: bool = True) -> int:
    sid = a101_session(services)
    put_student_with_photo(services, sid, "S100", photo)
    services.writer.call(session_store.seat_student, sid, "S100", SEAT, 1)
    if opted_in:
        services.writer.call(face_matches.set_flag, sid, True)
    return sid


# -- the flag -----------------------------------------------------------------------------------
def test_the_admin_opts_an_exam_in_before_its_start_and_the_start_tells_the_node(
        client, services):
    sid = a101_session(services)
    token = login(client, "admin")
    page = client.get(f"/exams/{sid}").text
    assert 'id="face-match-flag" data-on="0"' in page
    r = client.post(f"/exams/{sid}/face-match", data={"csrf_token": token, "face_match": "on"})
    assert r.status_code == 302
    assert read(services, face_matches.flag, sid) is True
    assert 'data-on="1"' in client.get(f"/exams/{sid}").text
    [(_, payload, _)] = services.writer.call(session_store.set_running, sid, True, ["cam1"])
    assert json.loads(payload)["session"]["face_check"] is True
    # started: the flag cannot change any more
    client.post(f"/exams/{sid}/face-match", data={"csrf_token": token})
    assert read(services, face_matches.flag, sid) is True
    actions = read(services, lambda c: [r["action"] for r in audit.entries(c, 50)])
    assert actions.count("session.face_match") == 1


def test_an_exam_not_opted_in_starts_as_before(services, seeded):
    sid = a101_session(services)
    [(_, payload, _)] = services.writer.call(session_store.set_running, sid, True, ["cam1"])
    assert "face_check" not in json.loads(payload)["session"]


def test_another_rooms_proctor_cannot_set_it(client, services):
    sid = a101_session(services)
    token = login(client, "bolat")
    r = client.post(f"/exams/{sid}/face-match", data={"csrf_token": token, "face_match": "on"})
    assert r.status_code == 404
    assert read(services, face_matches.flag, sid) is False


# -- the match, with the real models on real faces ------------------------------------------
def test_the_same_person_is_likely_another_unlikely_a_cat_no_face(services, seeded, face_jpegs):
    sid = seated_with_photo(services, face_jpegs["man"])
    same = advice(services, check_in(services, sid, face_jpegs["man_later"]))
    other = advice(services, check_in(services, sid, face_jpegs["woman"]))
    cat = advice(services, check_in(services, sid, face_jpegs["cat"]))
    assert same["result"] == "likely" and same["similarity"] >= face_match.THRESHOLD, dict(same)
    assert other["result"] == "unlikely" and other["similarity"] < face_match.THRESHOLD
    assert cat["result"] == "no_face" and cat["similarity"] is None
    assert same["student_no"] == "S100" and same["seat"] == SEAT and same["ms"] > 0
    # the photo's embedding was made once and is kept on the hub only, with the photo
    stored = read(services, lambda c: c.execute(
        "SELECT student_no, length(vector) FROM photo_embeddings").fetchall())
    assert [tuple(r) for r in stored] == [("S100", 4 * 192)] or stored[0][1] % 4 == 0
    assert read(services, face_matches.latest_by_seat, sid)[SEAT]["result"] == "no_face"


def test_the_photo_embedding_goes_with_the_photo(services, seeded, face_jpegs):
    sid = seated_with_photo(services, face_jpegs["man"])
    assert advice(services, check_in(services, sid, face_jpegs["man_later"])) is not None
    services.writer.call(lambda c: c.execute("DELETE FROM roster_photos"))
    assert read(services, lambda c: c.execute(
        "SELECT COUNT(*) FROM photo_embeddings").fetchone()[0]) == 0


def test_without_the_opt_in_or_a_photo_no_match_is_made(services, seeded, face_jpegs):
    sid = seated_with_photo(services, face_jpegs["man"], opted_in=False)
    eid = check_in(services, sid, face_jpegs["man_later"])
    assert services.face_matcher.idle.wait(30)
    time.sleep(0.2)
    assert read(services, face_matches.for_evidence, eid) is None
    stored = read(services, lambda c: c.execute(
        "SELECT kind FROM evidence WHERE evidence_id=?", (eid,)).fetchone())
    assert stored["kind"] == "check-in"                      # the check-in itself works


def test_a_failing_model_leaves_the_check_in_working_with_no_automatic_match(
        services, seeded, face_jpegs, monkeypatch, caplog):
    sid = seated_with_photo(services, face_jpegs["man"])

    def broken(image, face):
        raise RuntimeError("interpreter died")
    monkeypatch.setattr(faces, "embed", broken)
    eid = check_in(services, sid, face_jpegs["man_later"])
    row = advice(services, eid)
    assert row["result"] == "failed" and row["similarity"] is None
    assert "no automatic match" in caplog.text
    assert read(services, lambda c: c.execute(
        "SELECT 1 FROM evidence WHERE evidence_id=?", (eid,)).fetchone()) is not None


def test_the_crops_main_face_is_the_large_central_one():
    small_edge = faces.FaceBox(0.9, (0.0, 0.0, 30.0, 30.0))
    big_centre = faces.FaceBox(0.8, (80.0, 80.0, 160.0, 160.0))
    assert face_match.main_face([small_edge, big_centre], 240, 240) is big_centre
    assert face_match.main_face([], 240, 240) is None
    assert np.isfinite(face_match.THRESHOLD)


def test_the_check_in_card_shows_the_advice_as_advice(client, services, face_jpegs):
    """The proctor's check-in view words the match as the camera's opinion, the proctor's
    decision left to the buttons; an exam that did not opt in shows no advice."""
    sid = seated_with_photo(services, face_jpegs["man"])
    assert advice(services, check_in(services, sid, face_jpegs["woman"]))["result"] == "unlikely"
    login(client, "aigerim")
    html = client.get(f"/exams/{sid}/check-in").text
    assert 'data-result="unlikely"' in html and "шешімді сіз қабылдайсыз" in html  # kk
    assert "face-match-likely" not in html
    services.writer.call(lambda c: c.execute("UPDATE sessions SET face_match=0 WHERE id=?",
                                             (sid,)))
    assert "face-match" not in client.get(f"/exams/{sid}/check-in").text.split("<main")[-1] \
        .replace("face-match-flag", "")
