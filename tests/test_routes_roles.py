"""Every route of the app × every role, against the table of who may reach it (the role model
of docs/security.md, "Roles"). A route the table does not name fails the test: a new page
needs its rule written down here first.

Users: ``anon`` (not logged in); ``aigerim`` (proctor of the exam running now in main/a101,
whose objects the URLs name); ``bolat`` (proctor running now in main/b202); ``dana``
(proctor of a101's exam of yesterday); ``dean`` (dean of building main); ``east_dean`` (dean
of another building); ``tech``; ``admin``. "Reached" is any answer but 403, 404 or the login
page: the rules let the user in (a 400 for an empty form, a 409, a redirect all count).
"""

from __future__ import annotations

import re
from io import BytesIO

import pytest

from hub.store import users
from tests.support.hub_env import PASSWORD, csrf_from, login
from tests.support.photos import put_student_with_photo
from tests.test_hub_access import put_alert

EVERYONE = ("anon", "aigerim", "bolat", "dana", "dean", "east_dean", "tech", "admin")
LOGGED_IN = EVERYONE[1:]
PROCTORS = ("aigerim", "bolat", "dana")
DEANS = ("dean", "east_dean")

# endpoint -> (method, who reaches it). Objects: a101's alert, its evidence, its protocol
# (a draft), aigerim's session 1, room main/a101, node main/a101/cam1.
ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "static": ("GET", EVERYONE),
    "auth.home": ("GET", EVERYONE),             # a redirect: to the login page or the home
    "auth.login": ("GET", EVERYONE),
    "auth.logout": ("POST", EVERYONE),          # anonymous: just back to the login page
    "auth.language": ("POST", EVERYONE),
    "account.password": ("GET", LOGGED_IN),
    "public.room_info": ("GET", EVERYONE),      # what is monitored, for the door
    "public.qr": ("GET", EVERYONE),
    "enrolment.fetch": ("POST", EVERYONE),      # a Pi with a one-time code (refused: no code)
    # the proctor's room: their sessions' rooms, while the session runs
    "proctor.rooms": ("GET", PROCTORS),
    "proctor.room": ("GET", ("aigerim",)),
    "proctor.acknowledge": ("POST", ("aigerim",)),
    "proctor.dismiss": ("POST", ("aigerim",)),
    "proctor.confirm": ("POST", ("aigerim",)),
    "proctor.note": ("POST", ("aigerim",)),
    "proctor.presence": ("POST", ("aigerim",)),   # "I am at this seat" (its seat page's)
    "proctor.seat": ("GET", ("aigerim",)),          # a seat of their room's map
    "proctor.picture": ("POST", ("aigerim",)),      # a fresh picture of that seat
    "proctor.picture_status": ("GET", ("aigerim",)),    # of their own session's picture
    "proctor.picture_image": ("GET", ("aigerim",)),
    # live data and evidence: the session's proctor now, the building's dean (read only)
    "live.feed": ("GET", ("aigerim", "dean")),
    "live.stream": ("GET", ("aigerim", "dean")),
    "live.evidence_page": ("GET", ("aigerim", "dean")),
    "live.evidence_file": ("GET", ("aigerim", "dean")),
    "live.clip_frames": ("GET", ("aigerim", "dean")),
    "live.clip_frame": ("GET", ("aigerim", "dean")),
    # the dean: their buildings' rooms, visits
    "dean.overview": ("GET", DEANS),
    "dean.room": ("GET", ("dean",)),
    "dean.tiles_json": ("GET", DEANS),
    "dean.stream": ("GET", DEANS),
    "dean.round_": ("POST", ("dean",)),
    "rounds.building": ("GET", DEANS),
    "rounds.report": ("GET", DEANS),
    # exams: the timetable is the admin's; start by the session's proctor; stop by them or
    # an admin (only the running session: tests/test_exam_stop_boundary.py)
    "exams.listing": ("GET", ("aigerim", "bolat", "dana", "dean", "east_dean", "admin")),
    "exams.session_page": ("GET", ("aigerim", "dean", "admin")),
    "exams.run": ("POST", ("aigerim", "admin")),        # /stop
    "exams.seat": ("POST", ("aigerim",)),
    "exams.import_csv": ("POST", ("admin",)),
    # a roster photo: only a proctor of a session running now with the student (audited)
    "exams.student_photo": ("GET", ("aigerim",)),
    # the check-in view and its actions: only a proctor of the session, during its time
    "checkin.view": ("GET", ("aigerim",)),
    "checkin.headcount": ("GET", ("aigerim",)),
    "checkin.ask_crop": ("POST", ("aigerim",)),
    "checkin.crop_status": ("GET", ("aigerim",)),
    "checkin.crop_image": ("GET", ("aigerim",)),
    "checkin.result": ("POST", ("aigerim",)),
    # the exam's opt-in to the automatic face match: its proctor or an admin (before the start)
    "exams.face_match": ("POST", ("aigerim", "admin")),
    # protocols: seen by the session's proctors and the building's deans; prepared (edited,
    # issued) by the proctor; the signed copy recorded by either; the retake by the dean
    "protocols.listing": ("GET", PROCTORS + DEANS),
    "protocols.retakes": ("GET", PROCTORS + DEANS),
    "protocols.page": ("GET", ("aigerim", "dean")),
    "protocols.pdf": ("GET", ("aigerim", "dean")),
    "protocols.bundle": ("GET", ("aigerim", "dean")),
    "protocols.save": ("POST", ("aigerim",)),
    "protocols.issue": ("POST", ("aigerim",)),
    "protocols.signed": ("POST", ("aigerim", "dean")),
    "protocols.signed_copy": ("GET", ("aigerim", "dean")),
    "protocols.retake": ("POST", ("dean",)),
    # the technician: nodes, no student data
    # what the proctors' dismissals say about the detector: counts only, no student data
    "detection.dismissals": ("GET", ("tech", "admin")),
    "technician.nodes": ("GET", ("tech",)),
    "technician.add_node": ("POST", ("tech",)),
    "technician.code": ("POST", ("tech",)),
    "technician.enrol": ("POST", ("tech",)),
    "technician.revoke": ("GET", ("tech",)),
    "technician.snapshot": ("POST", ("tech",)),
    "technician.command": ("GET", ("tech",)),
    "technician.snapshot_image": ("GET", ("tech",)),
    "technician.seatmap_editor": ("GET", ("tech",)),
    "technician.save_seatmap": ("POST", ("tech",)),
    "technician.ca_cert": ("GET", ("tech",)),
    # the admin: users, sessions, seat maps, the audit log; no student data
    "admin.home": ("GET", ("admin",)),
    "admin.audit_log": ("GET", ("admin",)),
    "admin.add_user": ("POST", ("admin",)),
    "admin.add_session": ("POST", ("admin",)),
    "admin.load_seatmap": ("POST", ("admin",)),
    "admin.set_active": ("POST", ("admin",)),
    "admin.set_buildings": ("POST", ("admin",)),
}

# A reacher's 404 here comes from the data, not the rules (so a 403 would still fail): no
# provisioning in this hub, no such command or code, a JPEG that is no clip, no signed copy
# yet; the spare user is a proctor, who has no buildings to set.
DATA_404 = {"admin.set_buildings", "enrolment.fetch", "technician.add_node",
            "technician.ca_cert", "technician.code",
            "technician.enrol", "technician.revoke", "technician.snapshot", "technician.command",
            "technician.snapshot_image", "technician.seatmap_editor", "technician.save_seatmap",
            "live.clip_frame", "live.clip_frames", "protocols.signed_copy",
            "proctor.picture_status", "proctor.picture_image", "checkin.crop_status",
            "checkin.crop_image"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """One hub for the whole table (logins are slow): the routes run in name order, and what
    one changes (a confirmed alert, an issued protocol) changes no other's rules."""
    from hub.services import HubServices
    from hub.web.app import create_app
    from tests.support.hub_env import make_config, seed

    config = make_config(tmp_path_factory.mktemp("routes"))
    services = HubServices(config).start(ingest=False)
    seed(services.writer)
    app = create_app(config, services)
    app.config["TESTING"] = True
    w = services.writer
    east = w.call(users.add_user, "east_dean", PASSWORD, "dean", "East")
    w.call(users.set_buildings, east, ["east"])
    spare = w.call(users.add_user, "spare", PASSWORD, "proctor", "Spare")
    aid, ev = put_alert(services, "a101")
    confirmed, _ = put_alert(services, "a101")
    put_student_with_photo(services, 1, "S1")
    client = app.test_client()
    token = login(client, "aigerim")
    assert client.post(f"/proctor/alerts/{confirmed}/confirm",
                       data={"csrf_token": token}).status_code == 302
    pid = w.call(lambda c: c.execute("SELECT id FROM protocols").fetchone()[0])
    values = {"building": "main", "room": "a101", "name": "cam1", "alert_id": aid,
              "evidence_id": ev, "n": "0", "session_id": "1", "action": "stop",
              "protocol_id": str(pid), "command_id": "c0ffee00c0ffee00", "user_id": str(spare),
              "filename": "live.js", "seat": "r1s1", "student_no": "S1"}
    yield app, values, {}
    services.stop()


def url_of(app, endpoint: str, values: dict[str, str]) -> str:
    [rule] = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    return re.sub(r"<(?:[^:<>]+(?:\([^)]*\))?:)?([a-z_]+)>", lambda m: values[m.group(1)],
                  rule.rule)


def test_the_table_names_every_route(hub):
    app, _, _ = hub
    assert {r.endpoint for r in app.url_map.iter_rules()} == set(ROUTES)


def _client(app, clients: dict, user: str, fresh: bool):
    if fresh or user not in clients:
        client = app.test_client()
        token = csrf_from(client.get("/login").text) if user == "anon" else login(client, user)
        if fresh:
            return client, token
        clients[user] = (client, token)
    return clients[user]


def _outcome(app, clients: dict, user: str, method: str, url: str) -> int | str:
    client, token = _client(app, clients, user, fresh=url == "/logout")
    data = {"csrf_token": token, "reason": "other", "text": "a note"}
    if url.endswith("/signed") and method == "POST":
        data["scan"] = (BytesIO(b"%PDF-1.4 signed"), "s.pdf", "application/pdf")
    if method == "GET":
        r = client.get(url, buffered=False)
    else:
        r = client.post(url, data=data)
    status, location = r.status_code, r.headers.get("Location", "")
    r.close()
    if status == 302 and "/login?next=" in location:       # the rules' "log in first"
        return "login"
    return status


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_each_role_reaches_exactly_what_the_table_says(hub, endpoint):
    app, values, clients = hub
    method, reachers = ROUTES[endpoint]
    url = url_of(app, endpoint, values)
    order = [u for u in EVERYONE if u not in reachers] + list(reachers)  # refusals first
    for user in order:
        got = _outcome(app, clients, user, method, url)
        if user in reachers:
            refused = (403, "login") if endpoint in DATA_404 else (403, 404, "login")
            assert got not in refused, (endpoint, user, got)
        else:
            assert got in (403, 404, "login"), (endpoint, user, got)


# The campus hub (hub.role = "campus", docs/campus.md): its own app with the login, the
# account and the read-only campus pages only. Users (tests/support/campus_env.py): ``dean``
# (of main), ``east_dean``, ``both_dean``, ``office`` (the academic office, every building),
# ``aigerim`` (a proctor) and ``admin``, who have no page on the campus.
CAMPUS_EVERYONE = ("anon", "dean", "east_dean", "both_dean", "office", "aigerim", "admin")
CAMPUS_READERS = ("dean", "east_dean", "both_dean", "office")
CAMPUS_ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "static": ("GET", CAMPUS_EVERYONE),
    "auth.home": ("GET", ("anon",) + CAMPUS_READERS),     # no home for another role: 403
    "auth.login": ("GET", CAMPUS_EVERYONE),
    "auth.logout": ("POST", CAMPUS_EVERYONE),
    "auth.language": ("POST", CAMPUS_EVERYONE),
    "account.password": ("GET", CAMPUS_EVERYONE[1:]),
    "campus.overview": ("GET", CAMPUS_READERS),
    "campus.tiles_json": ("GET", CAMPUS_READERS),
    "campus.stream": ("GET", CAMPUS_READERS),
    "campus.incidents": ("GET", CAMPUS_READERS),
    "campus.incidents_json": ("GET", CAMPUS_READERS),
    "campus.nodes": ("GET", CAMPUS_READERS),
    "campus.rounds": ("GET", CAMPUS_READERS),
}


@pytest.fixture(scope="module")
def campus_hub(tmp_path_factory):
    from hub.services import HubServices
    from hub.web.app import create_app
    from tests.support.campus_env import make_campus_config, seed_campus

    config = make_campus_config(tmp_path_factory.mktemp("campus-routes"))
    services = HubServices(config).start(ingest=False)
    seed_campus(services.writer)
    app = create_app(config, services)
    app.config["TESTING"] = True
    yield app, {"filename": "app.css"}, {}
    services.stop()


def test_the_campus_table_names_every_campus_route(campus_hub):
    app, _, _ = campus_hub
    assert {r.endpoint for r in app.url_map.iter_rules()} == set(CAMPUS_ROUTES)


@pytest.mark.parametrize("endpoint", sorted(CAMPUS_ROUTES))
def test_each_role_reaches_exactly_what_the_campus_table_says(campus_hub, endpoint):
    app, values, clients = campus_hub
    method, reachers = CAMPUS_ROUTES[endpoint]
    url = url_of(app, endpoint, values)
    for user in [u for u in CAMPUS_EVERYONE if u not in reachers] + list(reachers):
        got = _campus_outcome(app, clients, user, method, url)
        if user in reachers:
            assert got not in (403, 404, "login"), (endpoint, user, got)
        else:
            assert got in (403, 404, "login"), (endpoint, user, got)


def _campus_outcome(app, clients: dict, user: str, method: str, url: str) -> int | str:
    if url == "/logout" or user not in clients:
        client = app.test_client()
        token = csrf_from(client.get("/login").text)
        if user != "anon":
            client.post("/login", data={"username": user, "password": PASSWORD,
                                        "csrf_token": token})    # a 403 for a role with no home
            token = csrf_from(client.get("/login").text)
        if url != "/logout":
            clients[user] = (client, token)
    else:
        client, token = clients[user]
    r = client.get(url, buffered=False) if method == "GET" else \
        client.post(url, data={"csrf_token": token})
    status, location = r.status_code, r.headers.get("Location", "")
    r.close()
    return "login" if status == 302 and "/login?next=" in location else status
