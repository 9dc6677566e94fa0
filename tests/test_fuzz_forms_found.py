"""What the fuzz of the hub's forms found (tests/test_fuzz_forms.py), pinned: each was a 500,
or a file left behind. Against the same hub as the fuzz (tests/support/fuzz_hub.py)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from tests.support.fuzz_hub import Hub, running_hub

pytestmark = pytest.mark.integration     # a TLS mosquitto


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    with running_hub(tmp_path_factory.mktemp("fuzz-forms")) as hub:
        yield hub


def in_english(hub: Hub, user: str):
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
    client, token = in_english(hub, "admin")
    r = client.post("/admin/rooms", follow_redirects=True, data={
        "csrf_token": token, "building": "main", "room": "c404",
        "seatmap_json": "[" * 5000})
    assert r.status_code == 200 and "The JSON is nested too deeply." in r.text


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"seatmap": [1]}', b'{"seatmap": "x"}',
                                  b"[" * 5000, b'{"seatmap": ' * 3000, b"\xff\xfe{}", b""])
def test_the_seat_map_editor_refuses_what_is_not_a_seat_map(hub, body):
    """A JSON list, a seatmap that is not an object, or too deep: AttributeError, TypeError
    or RecursionError before."""
    client, token = in_english(hub, "tech")
    r = client.post("/tech/nodes/main/a101/cam1/seatmap", data=body,
                    content_type="application/json", headers={"X-CSRF-Token": token})
    assert r.status_code == 400 and r.json["error"]


def test_an_empty_or_mislabelled_signed_copy_is_refused(hub):
    """An empty file, or bytes that are not what their type says, made the protocol
    "signed"; a copy refused by the store stayed in the folder without its record."""
    client, token = in_english(hub, "dean")
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
