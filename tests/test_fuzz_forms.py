"""Property-based tests of every POST route of the hub's web app: whatever a signed-in user
(with a valid session and CSRF token) sends — missing, extra or wrong-typed fields, empty or
100k-character values, control characters, invalid UTF-8, path traversal in names and files,
forged ids in the URL, huge, empty or garbage uploads — the answer is a 4xx or a page with a
clear error, never a 500; the writer thread keeps working, the database stays intact, and no
file appears outside the hub's data folder.

One hub for the whole module (tests/support/fuzz_hub.py), the requests built by
tests/support/form_fuzz.py. The routes come from the app's ``url_map``: a POST route added
later and not listed in ``CASES`` fails ``test_every_post_route_is_fuzzed``, naming it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.support.form_fuzz import CASES, FUZZ, client_for, request_body, route_url, values
from tests.support.fuzz_hub import Hub, assert_hub_whole, running_hub

pytestmark = pytest.mark.integration     # a TLS mosquitto


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    with running_hub(tmp_path_factory.mktemp("fuzz-forms")) as hub:
        yield hub


def test_every_post_route_is_fuzzed(hub):
    posts = {r.endpoint for r in hub.app.url_map.iter_rules() if "POST" in r.methods}
    assert posts - set(CASES) == set(), f"POST routes not fuzzed here: {posts - set(CASES)}"
    assert set(CASES) - posts == set(), f"not routes any more: {set(CASES) - posts}"
    for endpoint, case in CASES.items():
        [rule] = [r for r in hub.app.url_map.iter_rules() if r.endpoint == endpoint]
        assert set(rule.arguments) == set(case.args), endpoint


@pytest.mark.parametrize("endpoint", sorted(CASES))
@FUZZ
@given(data=st.data())
def test_fuzz_post_route(hub, endpoint, data):
    case = CASES[endpoint]
    forge = data.draw(st.sampled_from([None] * 2 * len(case.args) + list(case.args)),
                      label="forged argument") if case.args else None
    args = {name: data.draw(build(hub, name == forge), label=name)
            for name, build in case.args.items()}
    url = route_url(hub, endpoint, args)
    if endpoint == "auth.login" and data.draw(st.booleans(), label="next"):
        url += "?next=" + quote(data.draw(values, label="next"), safe="")
    client, token, environ = client_for(hub, case, data)
    body = request_body(case, token, data)
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

