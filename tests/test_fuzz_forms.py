"""Property-based tests of every POST route of the hub's web app: whatever a signed-in user
(with a valid session and CSRF token) sends — missing, extra or wrong-typed fields, empty or
100k-character values, control characters, invalid UTF-8, path traversal in names and files,
forged ids in the URL, huge, empty or garbage uploads — the answer is a 4xx or a page with a
clear error, never a 500; the writer thread keeps working, the database stays intact, and no
file appears outside the hub's data folder.

One hub for the whole module (real SQLite files, the real writer thread, a real TLS
mosquitto so that the technician's enrolment routes run for real), driven through Flask's
test client. The routes come from the app's ``url_map``: a POST route added later and not
listed in ``CASES`` fails ``test_every_post_route_is_fuzzed``, naming it."""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from werkzeug.test import encode_multipart

from hub.services import HubServices
from hub.store import protocols as protocol_store
from hub.web import create_app
from tests.support.hub_env import PASSWORD, csrf_from, login, seatmap, seed
from tests.support.pki import provisioned_broker
from tests.test_enrolment_browser import hub_config
from tests.test_hub_access import put_alert

FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TZ = "Asia/Almaty"
NODE = ("main", "a101", "cam1")

# -- what users may type -------------------------------------------------------------------

NASTY = [
    "", " ", "0", "-1", "1.5", "99999999999999999999999999", "1e309", "nan", "true", "null",
    "../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "%2e%2e%2f%2e%2e%2f",
    "....//....//", "a\x00b", "\x00", "\r\n", "\t\x0b\x0c\x1b[31m", "\u202etxt.exe",
    "<script>alert(1)</script>", "'; DROP TABLE users;--", "{{7*7}}", "%s%s%n",
    "2026-02-30", "2026-13-01T25:61", "9999-12-31T23:59", "0001-01-01T00:00",
    "2026-11-26T09:00+05:00", "main", "a101", "b202", "cam1", "r1s1", "r2s3", "aigerim",
    "admin", "proctor", "dean", "technician", "kk", "ru", "en", "allowed_aid",
    "Әлия Нұрланқызы", "[" * 5000, "{\"seats\": " * 3000, "\ufeff", "\ufffd", "😀" * 10,
    "x" * 100_000, "é" * 40_000,
]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
values = st.one_of(st.sampled_from(NASTY), text, st.integers().map(str),
                   st.floats().map(str), st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
path_part = st.one_of(st.sampled_from(["main", "a101", "b202", "cam1", "cam2", "..", ".",
                                       "%00", "x" * 300]),
                      values.filter(lambda s: s not in ("", ".", "..")))


def garbage_files() -> st.SearchStrategy[tuple[bytes, str, str]]:
    """(bytes, file name, content type) of an upload: empty, huge, binary, wrong encoding,
    truncated images, traversal in the name."""
    jpeg, png, pdf = b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\x89PNG\r\n\x1a\n", b"%PDF-1.4\n"
    data = st.one_of(
        st.sampled_from([b"", b"\x00" * 1024, jpeg, jpeg + b"\x00" * 50, png, pdf,
                         "group,student_no,name\nЭЭ-21,1,Алия\n".encode("cp1251"),
                         "group,student_no,name\nЭЭ-21,1,Әлия\n".encode("utf-16"),
                         b"\xff\xfe\xfd" * 1000, b"a," * 600_000, b"\n" * 100_000,
                         b"[" * 100_000, b"{\"seats\":" * 20_000]),
        st.binary(max_size=2000))
    names = st.sampled_from(["upload.csv", "../../etc/passwd", "..\\..\\x.csv", "/etc/shadow",
                             "", "a\x00b.jpg", "scan.pdf", "x" * 5000, "фото.png"])
    types = st.sampled_from(["text/csv", "application/pdf", "image/jpeg", "image/png",
                             "application/octet-stream", "text/html", "", "image/svg+xml"])
    return st.tuples(data, names, types)


GOOD = {  # plausible values of fields, half the time: so that the fuzz gets past the checks
    "lang": ["kk", "ru", "en"], "role": ["proctor", "dean", "technician", "admin"],
    "reason": ["allowed_aid", "detection_error", "other"], "building": ["main"],
    "room": ["a101", "b202", "c303"], "name": ["cam3", "cam 3"], "proctor": ["aigerim"],
    "starts_at": ["2026-11-26T09:00"], "ends_at": ["2026-11-26T12:00", "2026-11-26T08:00"],
    "seat": ["r1s1", "r2s3", "r9s9"], "student_no": ["1", "2", "3"], "text": ["seen"],
    "next": ["/dean/", "//evil.example/", "https://evil.example/"],
    "username": ["aigerim", "newuser"], "password": ["long enough password", PASSWORD],
    "display_name": ["Жаңа"], "retake_on": ["2026-12-01"], "attestation_date": ["2026-11-26"],
    "seatmap_json": [json.dumps(seatmap("c303")), json.dumps({"seats": []})],
    "confirm": ["main/a101/cam2"], "code": ["1a2b3c-4d5e6f-7a8b9c"],
}

# -- the routes ----------------------------------------------------------------------------

@dataclass
class Case:
    """How to fuzz one POST route: who may use it, its URL's arguments, its fields."""
    roles: tuple[str, ...]                   # users (tests/support/hub_env.USERS) allowed
    args: dict[str, Any] = field(default_factory=dict)   # URL argument -> strategy builder
    fields: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    json_body: bool = False
    session: str = "user"                    # "user": signed-in; "anonymous"; "fresh"


def ids(kind: str):
    """A URL argument: a real id of the fixture's hub, or (``forged``) a made-up one."""
    def build(hub: Hub, forged: bool) -> st.SearchStrategy:
        if not forged:
            return st.sampled_from(hub.ids[kind])
        if kind in ("session", "protocol"):
            return st.one_of(st.sampled_from([0, 999_999, 2**63 - 1, 2**63, 10**30]),
                             st.integers(min_value=0))
        return path_part
    return build


def one_of(*items: str):
    return lambda hub, forged: st.sampled_from(items)


ROOM = {"building": ids("building"), "room": ids("room")}
NODE_ARGS = {"building": ids("building"), "room": ids("node_room"), "name": ids("node")}
PROTOCOL = {"protocol_id": ids("protocol")}
ALERT = {"alert_id": ids("alert")}
SESSION = {"session_id": ids("session")}

CASES: dict[str, Case] = {
    "auth.login": Case((), fields=("username", "password"), session="anonymous"),
    "auth.logout": Case(("aigerim",), session="fresh"),
    "auth.language": Case(("dean", "admin"), fields=("lang", "next")),
    "admin.add_user": Case(("admin",), fields=("username", "password", "role",
                                               "display_name")),
    "admin.add_session": Case(("admin",), fields=("building", "room", "proctor", "starts_at",
                                                  "ends_at", "title")),
    "admin.load_seatmap": Case(("admin",), fields=("building", "room", "seatmap_json",
                                                   "title"), files=("seatmap",)),
    "dean.round_": Case(("dean",), ROOM, fields=("note",)),
    "rounds.visit": Case(("dean",), ROOM, fields=("note",)),
    "exams.import_csv": Case(("admin",), files=("roster", "timetable")),
    "exams.run": Case(("aigerim", "bolat"), {**SESSION, "action": one_of("start", "stop")}),
    "exams.seat": Case(("aigerim",), SESSION, fields=("seat", "student_no")),
    "proctor.acknowledge": Case(("aigerim", "bolat"), ALERT),
    "proctor.confirm": Case(("aigerim", "bolat"), ALERT),
    "proctor.dismiss": Case(("aigerim",), ALERT, fields=("reason",)),
    "proctor.note": Case(("aigerim",), ALERT, fields=("text",)),
    "protocols.save": Case(("aigerim", "dean"), PROTOCOL,
                           fields=protocol_store.EDITABLE + ("id", "status", "pdf_file")),
    "protocols.issue": Case(("aigerim", "dean"), PROTOCOL),
    "protocols.retake": Case(("dean",), PROTOCOL, fields=("retake_on",)),
    "protocols.signed": Case(("dean", "aigerim"), PROTOCOL, files=("scan",)),
    "technician.add_node": Case(("tech",), fields=("building", "room", "name")),
    "technician.code": Case(("tech",), NODE_ARGS),
    "technician.enrol": Case(("tech",), NODE_ARGS),
    "technician.revoke": Case(("tech",), NODE_ARGS, fields=("confirm",)),
    "technician.snapshot": Case(("tech",), NODE_ARGS),
    "technician.save_seatmap": Case(("tech",), NODE_ARGS, json_body=True),
    "enrolment.fetch": Case((), fields=("code",), session="anonymous"),
}


# -- the hub -------------------------------------------------------------------------------

@dataclass(repr=False)
class Hub:
    app: Any
    services: HubServices
    root: Path                      # everything the test made; the hub writes only in data
    data: Path
    clients: dict[str, tuple[Any, str]]       # user -> (signed-in test client, CSRF token)
    ids: dict[str, list]
    files_before: set[Path]


def _files(root: Path) -> set[Path]:
    return {Path(d) / f for d, _, fs in os.walk(root) for f in fs}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-forms")
    with provisioned_broker(root) as (_, broker, pki):
        config = hub_config(root / "deep" / "er", broker, pki)    # data dir two levels down
        services = HubServices(config).start(ingest=True)
        try:
            assert services.ingest.connected.wait(10), services.ingest.last_error
            seed(services.writer)
            app = create_app(config, services)
            app.config["TESTING"] = True
            alerts = [put_alert(services, room)[0] for room in ("a101", "a101", "a101", "a101",
                                                                "a101", "b202")]
            clients = {}
            for user in ("aigerim", "bolat", "dean", "tech", "admin"):
                client = app.test_client()
                clients[user] = (client, login(client, user))
            _prepare(app, services, clients, alerts)
            data = config.hub.data_dir
            hub = Hub(app, services, root, data, clients, {
                "alert": alerts,
                "session": [r[0] for r in services.writer.call(
                    lambda c: c.execute("SELECT id FROM sessions ORDER BY id").fetchall())],
                "protocol": [r[0] for r in services.writer.call(
                    lambda c: c.execute("SELECT id FROM protocols ORDER BY id").fetchall())],
                "building": ["main"], "room": ["a101", "b202"], "node": ["cam1", "cam2"],
                "node_room": ["a101"],
            }, set())
            hub.files_before = _outside(hub)
            yield hub
        finally:
            services.stop()


def _prepare(app, services, clients, alerts) -> None:
    """A roster and today's timetable imported; protocols as draft, issued and signed; a
    node registered and enrolled."""
    client, token = clients["admin"]
    today = datetime.now(ZoneInfo(TZ)).date().isoformat()
    timetable = ("exam_code,discipline,groups,building,room,date,start,end,proctors,"
                 f"allowed_aids\nM1,Математика,ЭЭ-21,main,a101,{today},00:00,23:59,aigerim,"
                 "calculator\n")
    roster = "group,student_no,name,seat\nЭЭ-21,1,Әлия,r2s3\nЭЭ-21,2,Бауыржан,\n"
    r = client.post("/exams/import", data={
        "csrf_token": token, "roster": (io.BytesIO(roster.encode()), "r.csv"),
        "timetable": (io.BytesIO(timetable.encode()), "t.csv")})
    assert r.status_code == 302
    client, token = clients["aigerim"]
    for aid in alerts[:3]:
        assert client.post(f"/proctor/alerts/{aid}/confirm",
                           data={"csrf_token": token}).status_code == 302
    pids = [r[0] for r in services.writer.call(
        lambda c: c.execute("SELECT id FROM protocols ORDER BY id").fetchall())]
    assert len(pids) == 3
    for pid in pids[1:]:
        assert client.post(f"/protocols/{pid}/issue",
                           data={"csrf_token": token}).status_code == 302
    scan = b"%PDF-1.4\n% a scanned signed copy\n"
    assert client.post(f"/protocols/{pids[2]}/signed", data={
        "csrf_token": token, "scan": (io.BytesIO(scan), "s.pdf", "application/pdf")}
                       ).status_code == 302
    client, token = clients["tech"]
    assert client.post("/tech/nodes", data={"csrf_token": token, "building": NODE[0],
                                            "room": NODE[1], "name": NODE[2]}
                       ).status_code == 302
    assert client.post("/tech/nodes", data={"csrf_token": token, "building": "main",
                                            "room": "a101", "name": "cam2"}
                       ).status_code == 302
    assert client.post("/tech/nodes/main/a101/cam1/enrol",
                       data={"csrf_token": token}).status_code == 200


def _outside(hub: Hub) -> set[Path]:
    """Files outside the hub's data folder, the PKI folder and the broker's folder."""
    allowed = (hub.data, hub.root / "pki", hub.root / "mq")
    return {p for p in _files(hub.root) if not any(p.is_relative_to(a) for a in allowed)}


PROTOCOL_FILE = re.compile(r"^\d+-(issued-[0-9T.Z-]+\.pdf|signed-[0-9a-f]{16}\.(pdf|jpg|png))$")


def assert_hub_whole(hub: Hub) -> None:
    """The writer accepts work, the database is intact, nothing was written where it must
    not be."""
    check = hub.services.writer.call(
        lambda c: c.execute("PRAGMA integrity_check").fetchone()[0], timeout=10)
    assert check == "ok"
    assert _outside(hub) == hub.files_before
    for p in _files(hub.data):
        rel = p.relative_to(hub.data)
        if rel.parts[0] == "protocols":
            assert PROTOCOL_FILE.match(p.name), rel
        else:
            assert rel.parts[0] == "evidence" or rel.name.startswith("hub.db"), rel


# -- the tests -----------------------------------------------------------------------------

def test_every_post_route_is_fuzzed(hub):
    posts = {r.endpoint for r in hub.app.url_map.iter_rules() if "POST" in r.methods}
    assert posts - set(CASES) == set(), f"POST routes not fuzzed here: {posts - set(CASES)}"
    assert set(CASES) - posts == set(), f"not routes any more: {set(CASES) - posts}"
    for endpoint, case in CASES.items():
        [rule] = [r for r in hub.app.url_map.iter_rules() if r.endpoint == endpoint]
        assert set(rule.arguments) == set(case.args), endpoint


def _url(hub: Hub, endpoint: str, args: dict[str, Any]) -> str:
    [rule] = [r for r in hub.app.url_map.iter_rules() if r.endpoint == endpoint]
    path = rule.rule
    for name, value in args.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", quote(str(value), safe=""), path)
    return path


def _client(hub: Hub, case: Case, data: st.DataObject):
    """(client, token, headers) for one request."""
    if case.session == "user":
        user = data.draw(st.sampled_from(case.roles), label="user")
        client, token = hub.clients[user]
        return client, token, {}
    client = hub.app.test_client()
    token = csrf_from(client.get("/login").text)
    if case.session == "fresh":
        token = login(client, data.draw(st.sampled_from(case.roles), label="user"))
    # another address for each example: the login limiter must not lock out the others
    addr = f"10.{data.draw(st.integers(0, 255))}.{data.draw(st.integers(0, 255))}.1"
    return client, token, {"REMOTE_ADDR": addr}


def _body(case: Case, token: str, data: st.DataObject) -> dict[str, Any]:
    """The request's keyword arguments for the test client: one of a form (known fields
    missing or odd, extra fields), raw bytes with the form content type, a multipart upload,
    or JSON."""
    kinds = ["form", "raw", "multipart"] + (["json"] * 3 if case.json_body else [])
    kind = data.draw(st.sampled_from(kinds), label="kind")
    headers = {"X-CSRF-Token": token}
    if kind == "raw":
        raw = data.draw(st.one_of(
            st.binary(max_size=500),
            st.sampled_from([b"=\xff\xfe", b"note=%ff%fe%00", b"a=" + b"\xc3" * 5000,
                             b"&&&===;;;", b"x=" + b"y" * (3 * 1024 * 1024)])), label="raw")
        if case.fields:
            raw += b"&" + "&".join(f"{quote(f)}=%C0%AF%ED%A0%80" for f in case.fields).encode()
        return {"data": raw, "content_type": "application/x-www-form-urlencoded",
                "headers": headers}
    if kind == "json":
        doc = data.draw(st.one_of(
            st.just({"seatmap": seatmap("a101")}),
            st.sampled_from([{"seatmap": seatmap("a101")}, [{"seatmap": {}}], [1, 2], "x",
                             {"seatmap": [1]}, {"seatmap": "x" * 100_000}, {"seatmap": None},
                             {"seatmap": {**seatmap("a101"), "frame_size": "big"}}]),
            st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | text,
                         lambda c: st.lists(c, max_size=4) | st.dictionaries(text, c,
                                                                             max_size=4),
                         max_leaves=20),
            st.fixed_dictionaries({"seatmap": st.one_of(
                st.dictionaries(st.sampled_from(["frame_size", "seats", "room", "x"]),
                                st.one_of(text, st.lists(st.integers(-5, 5000), max_size=3),
                                          st.lists(st.dictionaries(
                                              st.sampled_from(["id", "polygon", "student"]),
                                              st.one_of(values, st.lists(
                                                  st.lists(st.floats(), max_size=3),
                                                  max_size=5))), max_size=3)),
                                max_size=4),
                st.lists(st.integers(), max_size=3), text, st.none())})),
            label="json")
        raw = json.dumps(doc).encode() if data.draw(st.booleans(), label="valid json") \
            else data.draw(st.sampled_from([b"[" * 5000, b"{\"seatmap\": [[[" * 3000,
                                            b"\xff\xfe{}", b"{\"seatmap\": {\"seats\": "
                                            + b"[" * 2000 + b"]" * 2000 + b"}}"]))
        return {"data": raw, "content_type": "application/json", "headers": headers}
    form: dict[str, Any] = {}
    for name in case.fields:
        if data.draw(st.booleans(), label=f"has {name}"):
            good = st.sampled_from(GOOD[name]) if name in GOOD else values
            form[name] = data.draw(st.one_of(good, values), label=name)
    for name in data.draw(st.lists(st.sampled_from(["csrf", "uid", "role", "__proto__",
                                                    "x" * 200, "id[]"]), max_size=2)):
        form[name] = data.draw(values, label=name)
    form["csrf_token"] = token
    if kind == "multipart":
        as_files = data.draw(st.lists(st.sampled_from(case.fields or ("z",)), max_size=1),
                             label="file as field")
        for name in (*case.files, *as_files):
            if data.draw(st.booleans(), label=f"file {name}"):
                blob, filename, ctype = data.draw(garbage_files(), label=f"{name} upload")
                form[name] = (io.BytesIO(blob), filename, ctype)
        # encoded here, in memory: the test client spools a big body to a temporary file it
        # never closes (a ResourceWarning that is the test client's, not the hub's)
        boundary, encoded = encode_multipart(form)
        return {"data": encoded, "content_type": f"multipart/form-data; boundary={boundary}"}
    return {"data": form}


@pytest.mark.parametrize("endpoint", sorted(CASES))
@FUZZ
@given(data=st.data())
def test_fuzz_post_route(hub, endpoint, data):
    case = CASES[endpoint]
    forge = data.draw(st.sampled_from([None] * 2 * len(case.args) + list(case.args)),
                      label="forged argument") if case.args else None
    args = {name: data.draw(build(hub, name == forge), label=name)
            for name, build in case.args.items()}
    url = _url(hub, endpoint, args)
    if endpoint == "auth.login" and data.draw(st.booleans(), label="next"):
        url += "?next=" + quote(data.draw(values, label="next"), safe="")
    client, token, environ = _client(hub, case, data)
    body = _body(case, token, data)
    with client.post(url, environ_base=environ, **body) as r:
        status = r.status_code
    event(f"status {status}")
    assert status < 500, (endpoint, url, status)
    assert_hub_whole(hub)


def test_the_signed_in_clients_still_work(hub):
    """After all that, each role still reaches its home page (nothing logged them out)."""
    for user, (client, _token) in hub.clients.items():
        with client.get("/", follow_redirects=True) as r:
            assert r.status_code == 200, user


# -- what the fuzz found (each was a 500, or a file left behind) ---------------------------

def _english(hub: Hub, user: str):
    client, token = hub.clients[user]
    client.post("/language", data={"csrf_token": token, "lang": "en"})
    return client, token


def test_an_id_too_big_for_sqlite_is_a_404(hub):
    """/exams/<int>, /protocols/<int>: 2**63 raised OverflowError in the query."""
    client, token = hub.clients["aigerim"]
    for url in (f"/exams/{2**63}/seat", f"/exams/{2**63}/start", f"/protocols/{2**63}/issue",
                f"/protocols/{10**30}/signed", f"/protocols/{2**63}", f"/exams/{2**63}"):
        with client.post(url, data={"csrf_token": token}) as r:
            assert r.status_code in (404, 405), url
        with client.get(url) as r:
            assert r.status_code in (404, 405), url


def test_a_seat_map_nested_too_deeply_is_refused_with_a_reason(hub):
    """json.loads raises RecursionError (not a ValueError) past ~1,000 levels."""
    client, token = _english(hub, "admin")
    r = client.post("/admin/rooms", follow_redirects=True, data={
        "csrf_token": token, "building": "main", "room": "c404",
        "seatmap_json": "[" * 5000})
    assert r.status_code == 200 and "The JSON is nested too deeply." in r.text


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"seatmap": [1]}', b'{"seatmap": "x"}',
                                  b"[" * 5000, b'{"seatmap": ' * 3000, b"\xff\xfe{}", b""])
def test_the_seat_map_editor_refuses_what_is_not_a_seat_map(hub, body):
    """A JSON list, a seatmap that is not an object, or too deep: AttributeError, TypeError
    or RecursionError before."""
    client, token = _english(hub, "tech")
    r = client.post("/tech/nodes/main/a101/cam1/seatmap", data=body,
                    content_type="application/json", headers={"X-CSRF-Token": token})
    assert r.status_code == 400 and r.json["error"]


def test_an_empty_or_mislabelled_signed_copy_is_refused(hub):
    """An empty file, or bytes that are not what their type says, made the protocol
    "signed"; a copy refused by the store stayed in the folder without its record."""
    client, token = _english(hub, "dean")
    issued, signed = hub.ids["protocol"][1], hub.ids["protocol"][2]
    folder = hub.data / "protocols"
    before = set(folder.iterdir())
    for blob, ctype in ((b"", "application/pdf"), (b"GIF89a", "image/png"),
                        (b"%PDF-1.4", "image/jpeg"), (b"\x00" * 4096, "image/jpeg")):
        r = client.post(f"/protocols/{issued}/signed", follow_redirects=True, data={
            "csrf_token": token, "scan": (io.BytesIO(blob), "scan", ctype)})
        assert "The file is empty or not a PDF, JPEG or PNG." in r.text, (blob, ctype)
    r = client.post(f"/protocols/{signed}/signed", follow_redirects=True, data={
        "csrf_token": token, "scan": (io.BytesIO(b"%PDF-1.4 another"), "s.pdf",
                                      "application/pdf")})
    assert "only an issued protocol can be signed" in r.text
    assert set(folder.iterdir()) == before
