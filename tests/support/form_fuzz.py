"""What the form fuzz sends (tests/test_fuzz_forms.py): nasty values and garbage uploads, the
POST routes with who may use them and their fields (``CASES``), and a request built from
them: a URL with real or forged ids, a signed-in or anonymous client, a form, raw bytes, a
multipart upload or JSON."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from werkzeug.test import encode_multipart

from hub.store import users
from hub.store import violation_protocols as protocol_store
from tests.support.hub_env import PASSWORD, csrf_from, login, seatmap

if TYPE_CHECKING:
    from tests.support.fuzz_hub import Hub

FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

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


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


# zips for the roster photos' upload: traversal, a small bomb (6 MB of zeros), junk in JPEGs
ZIPS = [_zip({"../../etc/S1.jpg": b"x", "/abs/S2.jpg": b"x"}),
        _zip({"1.jpg": b"\0" * (6 * 2**20)}), _zip({"1.jpg": b"\xff\xd8\xff" + b"\0" * 64,
                                                  "2.png": b"\x89PNG\r\n\x1a\n"})]


def garbage_files() -> st.SearchStrategy[tuple[bytes, str, str]]:
    """(bytes, file name, content type) of an upload: empty, huge, binary, wrong encoding,
    truncated images, traversal in the name."""
    jpeg, png, pdf = b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\x89PNG\r\n\x1a\n", b"%PDF-1.4\n"
    data = st.one_of(
        st.sampled_from([b"", b"\x00" * 1024, jpeg, jpeg + b"\x00" * 50, png, pdf,
                         "group,student_no,name\nЭЭ-21,1,Алия\n".encode("cp1251"),
                         "group,student_no,name\nЭЭ-21,1,Әлия\n".encode("utf-16"),
                         b"\xff\xfe\xfd" * 1000, b"a," * 600_000, b"\n" * 100_000,
                         b"[" * 100_000, b"{\"seats\":" * 20_000, *ZIPS]),
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
    "back": ["overview", "room", "rounds", "/proctor/room/main/a101/seat/r1s1", "//evil.example/",
             "https://evil.example/"],
    "username": ["aigerim", "newuser"], "password": ["long enough password", PASSWORD],
    "display_name": ["Жаңа"], "retake_on": ["2026-12-01"], "attestation_date": ["2026-11-26"],
    "seatmap_json": [json.dumps(seatmap("c303")), json.dumps({"seats": []})],
    "confirm": ["main/a101/cam2"], "code": ["1a2b3c-4d5e6f-7a8b9c"],
    "active": ["0", "1"], "new": ["long enough password"], "again": ["long enough password"],
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


FORGED_IDS = [0, 999_999, 2**63 - 1, 2**63, 10**30]     # ids that are no row's


def ids(kind: str):
    """A URL argument: a real id of the fixture's hub, or (``forged``) a made-up one."""
    def build(hub: Hub, forged: bool) -> st.SearchStrategy:
        if not forged:
            return st.sampled_from(hub.ids[kind])
        if kind in ("session", "protocol"):
            return st.one_of(st.sampled_from(FORGED_IDS), st.integers(min_value=0))
        return path_part
    return build


def one_of(*items: str):
    return lambda hub, forged: st.sampled_from(items)


def spare(username: str, role: str):
    """A URL argument: the id of the user ``username`` (a ``role``, made on first use) that
    only one case touches, or (``forged``) an id that is no user's."""
    def build(hub: Hub, forged: bool) -> st.SearchStrategy:
        if forged:
            return st.sampled_from(FORGED_IDS)

        def find_or_add(conn) -> int:
            row = conn.execute("SELECT id FROM users WHERE username = ?",
                               (username,)).fetchone()
            return row[0] if row else users.add_user(conn, username, PASSWORD, role)
        return st.just(hub.services.writer.call(find_or_add))
    return build


def seats(hub: Hub, forged: bool) -> st.SearchStrategy:
    """A URL argument: a seat of the fixture's seat maps, or (``forged``) no seat's name."""
    return path_part if forged else st.sampled_from(["r1s1", "r2s3", "r3s5"])


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
                                               "display_name", "buildings")),
    "admin.add_session": Case(("admin",), fields=("building", "room", "proctor", "starts_at",
                                                  "ends_at", "title")),
    "admin.load_seatmap": Case(("admin",), fields=("building", "room", "seatmap_json",
                                                   "title"), files=("seatmap",)),
    "dean.round_": Case(("dean",), ROOM, fields=("note", "back")),
    "exams.import_csv": Case(("admin",), files=("roster", "timetable", "photos")),
    "exams.run": Case(("aigerim", "bolat"), {**SESSION, "action": one_of("start", "stop")}),
    "exams.seat": Case(("aigerim",), SESSION, fields=("seat", "student_no")),
    "exams.face_match": Case(("aigerim", "admin"), SESSION, fields=("face_match",)),
    "proctor.acknowledge": Case(("aigerim", "bolat"), ALERT, fields=("back",)),
    "proctor.confirm": Case(("aigerim", "bolat"), ALERT, fields=("back",)),
    "proctor.dismiss": Case(("aigerim",), ALERT, fields=("reason", "back")),
    "proctor.note": Case(("aigerim",), ALERT, fields=("text", "back")),
    "proctor.presence": Case(("aigerim", "bolat"), {**ROOM, "seat": seats}),
    "proctor.picture": Case(("aigerim", "bolat"), {**ROOM, "seat": seats}),
    "checkin.ask_crop": Case(("aigerim", "bolat"), {**SESSION, "seat": seats}),
    "checkin.result": Case(("aigerim", "bolat"), SESSION,
                           fields=("student_no", "result", "moved_to", "command")),
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
    # a wrong current password only (the fuzz never knows it): each example signs in afresh
    "account.password": Case(("tech",), fields=("current", "new", "again"), session="fresh"),
    # a spare user, so that no other case's user is deactivated
    "admin.set_active": Case(("admin",), {"user_id": spare("spare", "proctor")},
                             fields=("active",)),
    # a spare dean, so that no other case's dean loses a building
    "admin.set_buildings": Case(("admin",), {"user_id": spare("spare_dean", "dean")},
                                fields=("buildings",)),
}


def route_url(hub: Hub, endpoint: str, args: dict[str, Any]) -> str:
    [rule] = [r for r in hub.app.url_map.iter_rules() if r.endpoint == endpoint]
    path = rule.rule
    for name, value in args.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", quote(str(value), safe=""), path)
    return path


def client_for(hub: Hub, case: Case, data: st.DataObject):
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


def request_body(case: Case, token: str, data: st.DataObject) -> dict[str, Any]:
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

