"""Every page of every role, in a real Chromium at a tablet's 1180×820: axe-core finds no
serious or critical violation, and every visible control is a touch target of at least
44×44 px (tests/support/axe.py says what is exempt). The pages come from the role table of
tests/test_routes_roles.py, so a page added there is checked here too. Each role's main page
is saved to var/screenshots/<role>-<page>.png.

The hub has an open alert with its snapshot (published by a simulated node over a real
mosquitto), a confirmed one with its protocol, a node's heartbeat, and (provisioning on) a
registered node for the technician's pages."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import sync_playwright

from hub.config import parse_config
from hub.server import HubServer
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, snapshot_jpeg
from kuzet_tools.broker import MosquittoBroker
from provisioning.service import Provisioner
from tests.support.axe import serious_violations, small_targets
from tests.support.hub_browser import launch, login, screenshot
from tests.support.hub_env import PASSWORD, SECRET, csrf_from, seatmap, seed
from tests.test_routes_roles import ROUTES

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

VIEWPORT = {"width": 1180, "height": 820}
A101 = contract.Origin(building="main", room="a101", node="cam1")
ROLE_USERS = {"proctor": "aigerim", "dean": "dean", "technician": "tech", "admin": "admin"}
# GET routes that are no page: a rule ending in a file's suffix (.jpg, .json, .pdf, ...),
# and these files, streams, redirects and the login page (checked logged out). A new GET
# route of neither kind is checked as a page, unless it answers with something else than HTML.
FILE_RULE = re.compile(r"\.[a-z]{2,4}$")
NOT_PAGES = {"static", "auth.home", "auth.login", "live.stream", "live.evidence_file",
             "protocols.signed_copy", "dean.stream", "exams.student_photo"}
MAIN_PAGES = {"proctor": "proctor.room", "dean": "dean.overview",
              "technician": "technician.nodes", "admin": "admin.home"}
# pages that must be among those checked (the seeded data makes them exist)
AT_LEAST = {"proctor": {"proctor.room", "proctor.seat", "live.evidence_page", "protocols.page",
                        "exams.session_page", "checkin.view"},
            "dean": {"dean.overview", "dean.room", "rounds.building", "live.evidence_page",
                     "protocols.page"},
            "technician": {"technician.nodes", "technician.revoke", "technician.seatmap_editor"},
            "admin": {"admin.home", "admin.audit_log", "exams.session_page"}}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("a11y")
    pki = tmp / "pki"
    Provisioner.init(pki, broker_names=["127.0.0.1"], broker_port=8883)
    with MosquittoBroker(tmp / "mosquitto") as broker:
        config = parse_config({
            "hub": {"data_dir": str(tmp / "hub"), "timezone": "Asia/Almaty"},
            "web": {"host": "127.0.0.1", "port": 0, "secret_key": SECRET,
                    "cookie_secure": False, "threads": 16},
            "broker": {"host": "127.0.0.1", "port": broker.port, "client_id": "hub-a11y"},
            "provisioning": {"enabled": True, "pki_dir": str(pki),
                             "node_broker_host": "127.0.0.1", "reload_command": "true"},
        }, "test-hub.toml")
        server = HubServer(config).start()
        assert server.services.ingest.connected.wait(10)
        seed(server.services.writer)
        node = NodeSim(broker.host, broker.port, A101)
        node.status("online")
        node.heartbeat(fps=9.986775352290655)
        polygon = next(s["polygon"] for s in seatmap()["seats"] if s["id"] == "r2s3")
        jpeg = snapshot_jpeg(800, 600, polygon)
        # open with its snapshot; to confirm; advisory; to acknowledge; to dismiss
        alerts = [node.alert_with_evidence(seat, rule, jpeg=jpeg)[0] for seat, rule in (
            ("r2s3", "device"), ("r1s1", "device"), ("r3s5", "head_turned"),
            ("r1s3", "extra_person"), ("r2s1", "notes"))]
        wait_for_rows(server, len(alerts))
        try:
            yield server, alerts
        finally:
            node.close()
            server.stop()


def wait_for_rows(server, n: int) -> None:
    from hub.store.db import connect
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        conn = connect(server.services.db_path, readonly=True)
        got = conn.execute("SELECT count(*) FROM evidence").fetchone()[0]   # one per alert
        conn.close()
        if got >= n:
            return
        time.sleep(0.05)
    raise AssertionError("the simulated node's alerts did not reach the hub")


def db_value(server, sql: str):
    from hub.store.db import connect
    conn = connect(server.services.db_path, readonly=True)
    try:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def url_of(rule: str, values: dict[str, str]) -> str:
    def value(m):
        if m.group(1) not in values:
            raise AssertionError(f"{rule}: no value for <{m.group(1)}> in this test's values")
        return values[m.group(1)]
    return re.sub(r"<(?:[^:<>]+(?:\([^)]*\))?:)?([a-z_]+)>", value, rule)


def pages_of(server, user: str, values: dict[str, str]) -> dict[str, str]:
    """endpoint -> URL of every GET page the role table lets ``user`` reach."""
    rules = {r.endpoint: r.rule for r in server.app.url_map.iter_rules()}
    return {ep: url_of(rules[ep], values) for ep, (method, who) in sorted(ROUTES.items())
            if method == "GET" and user in who and ep in rules and ep not in NOT_PAGES
            and not FILE_RULE.search(rules[ep])}


def check(page, where: str) -> list[str]:
    problems = [f"{where}: {v}" for v in serious_violations(page)]
    problems += [f"{where}: small target {t}" for t in small_targets(page)]
    return problems


def visit(page, url: str) -> str | None:
    """Open ``url``; its problem if it is an HTML page that did not load, None if it loaded,
    "skip" if it answered with something else than HTML."""
    response = page.goto(url, wait_until="commit")
    kind = response.headers.get("content-type", "")
    if not kind.startswith("text/html"):
        page.goto("about:blank")
        return "skip"
    page.wait_for_load_state("load")
    if response.status >= 400:
        return f"{url}: HTTP {response.status}"
    return None


def csrf(page, base: str) -> str:
    """The session's CSRF token (from the password page, which every logged-in role has)."""
    return csrf_from(page.request.get(f"{base}/account/password").text())


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_every_page_of_the_role_is_accessible(hub, browser, role):
    server, alerts = hub
    base = f"http://127.0.0.1:{server.port}"
    user = ROLE_USERS[role]
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    login(page, base, user, PASSWORD)
    assert "/login" not in page.url, f"{user} could not log in"
    if role == "proctor":                      # decided alerts; a protocol exists
        token = csrf(page, base)
        for alert, action in zip(alerts[1:], ("confirm", None, "acknowledge", "dismiss"),
                                 strict=True):
            if action:
                r = page.request.post(f"{base}/proctor/alerts/{alert.alert_id}/{action}",
                                      form={"csrf_token": token, "reason": "other"},
                                      max_redirects=0)
                assert r.status < 400, (action, r.status)
    if role == "technician":                   # a registered node: its pages exist
        page.request.post(f"{base}/tech/nodes", form={"csrf_token": csrf(page, base),
                          "building": "main", "room": "a101", "name": "cam1"},
                          max_redirects=0)
    values = {"building": "main", "room": "a101", "name": "cam1", "seat": "r2s3",
              "alert_id": alerts[0].alert_id,
              "evidence_id": db_value(server, "SELECT evidence_id FROM evidence"),
              "session_id": str(db_value(server, "SELECT s.id FROM sessions s JOIN users u ON "
                                                 "u.id = s.proctor_id WHERE u.username = "
                                                 "'aigerim'")),
              "protocol_id": str(db_value(server, "SELECT id FROM protocols")),
              "user_id": str(db_value(server, "SELECT id FROM users WHERE username='dana'"))}
    pages = pages_of(server, user, values)
    problems, checked = [], []
    for endpoint, path in pages.items():
        outcome = visit(page, base + path)
        if outcome == "skip":
            continue
        if outcome:
            problems.append(outcome)
            continue
        checked.append(endpoint)
        problems += check(page, path)
        if endpoint == MAIN_PAGES[role]:
            screenshot(page, f"{role}-{endpoint.split('.')[1]}")
    if role == "technician":                   # the one-time code's page answers a POST
        page.goto(base + "/tech/")
        page.evaluate("""([action, token]) => { const f = document.createElement('form');
            f.method = 'post'; f.action = action; f.id = 'a11y-post';
            f.innerHTML = '<input type=hidden name=csrf_token><button>code</button>';
            f.csrf_token.value = token; document.body.append(f); }""",
                      ["/tech/nodes/main/a101/cam1/code", csrf(page, base)])
        page.locator("#a11y-post button").click()
        page.wait_for_load_state("load")
        problems += check(page, "/tech/nodes/main/a101/cam1/code (POST)")
    for lang in ("ru", "en"):                  # the main page in the other languages too
        page.request.post(f"{base}/language", form={"csrf_token": csrf(page, base),
                                                    "lang": lang}, max_redirects=0)
        assert visit(page, base + pages[MAIN_PAGES[role]]) is None
        assert page.locator("html").get_attribute("lang") == lang
        problems += check(page, f"{pages[MAIN_PAGES[role]]} ({lang})")
    context.close()
    assert AT_LEAST[role] <= set(checked), f"{role}: not checked: {AT_LEAST[role] - set(checked)}"
    assert not problems, f"{role} ({user}), pages {checked}:\n  " + "\n  ".join(problems)


def test_login_public_and_error_pages_are_accessible(hub, browser):
    server, _ = hub
    base = f"http://127.0.0.1:{server.port}"
    page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
    problems = []
    for path, name in (("/login", "public-login"), ("/public/main/a101", "public-room")):
        assert visit(page, base + path) is None, path
        problems += check(page, path)
        screenshot(page, name)
    assert page.goto(base + "/no/such/page").status == 404    # the error page
    problems += check(page, "the 404 page")
    page.close()
    assert not problems, "\n  ".join(problems)


def test_the_checks_catch_what_they_look_for(browser):
    """Both checks fail a page with an unlabelled field and a small button, and pass an
    inline link inside a sentence."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_content('<!doctype html><html lang="en"><head><title>t</title></head><body>'
                     '<main><p>Read <a href="#x">the rules</a> first.</p>'
                     '<input name="q" style="height:60px">'
                     '<button style="padding:0;font-size:10px">x</button></main></body></html>')
    violations = serious_violations(page)
    assert any(v.startswith("critical label:") for v in violations), violations
    targets = small_targets(page)
    assert [t.split(" ", 1)[1] for t in targets] == ['button "x"'], targets
    page.close()
