"""HTTPS only: the hub refuses plain HTTP beyond loopback unless it sits behind its TLS front,
and that front (Debian's nginx with the site ``kuzet provision web`` writes, the certificate
from the building's CA) serves a real hub to curl and to a Chromium that trusts the CA through
an NSS database, redirects HTTP and sends HSTS; the printed enrolment line is HTTPS with
``--cacert`` and ``--proto =https`` and works as printed, and the enrolment refused on plain
HTTP. The hub there runs with the ``[web]`` settings ``kuzet provision web`` prints, and behind
the front clients are still told apart by their own addresses."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from hub.config import parse_config
from hub.server import HubServer
from hub.store.db import connect
from kuzet.errors import ConfigError
from kuzet_tools.broker import free_port
from kuzet_tools.cli import main as kuzet
from provisioning.web_front import HSTS, WebFront, write_web_front
from tests.support.hub_browser import CHROMIUM_ARGS, chromium_path, login
from tests.support.hub_env import PASSWORD, SECRET, seed
from tests.support.pki import provisioned_broker
from tests.support.web_front import NginxFront

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.0.0.5", "hub.local"])
def test_plain_http_beyond_loopback_is_refused_with_a_clear_error(host):
    with pytest.raises(ConfigError, match=r"web.*plain HTTP beyond this machine.*TLS front"):
        parse_config({"web": {"host": host}}, "hub.toml")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_is_fine_and_is_the_default(host):
    assert parse_config({"web": {"host": host}}).web.host == host
    assert parse_config({}).web.host == "127.0.0.1"


def test_beyond_loopback_only_when_told_it_sits_behind_the_tls_front():
    web = parse_config({"web": {"host": "0.0.0.0", "behind_tls_proxy": True,
                                "trusted_proxies": ["10.0.0.2"]}}).web
    assert web.behind_tls_proxy


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_behind_the_front_without_trusted_proxies_is_an_error_naming_the_fix(host):
    # else every client counts as the front's address: one guesser throttles everyone
    with pytest.raises(ConfigError, match=r'behind_tls_proxy.*trusted_proxies = \["127.0.0.1"\]'):
        parse_config({"web": {"host": host, "behind_tls_proxy": True}}, "hub.toml")


def test_the_nginx_site_sends_hsts_redirects_http_and_proxies_to_loopback(tmp_path):
    from provisioning.web_front import nginx_site

    site = nginx_site(WebFront(("hub.local", "10.0.0.5"), hub_port=8080), tmp_path / "c",
                      tmp_path / "k")
    assert "listen 443 ssl;" in site and "listen 80;" in site
    assert "return 301 https://$host$request_uri;" in site
    assert "location ^~ /enrol {\n        return 444;" in site    # refused, not redirected
    assert f'Strict-Transport-Security "{HSTS}" always' in site
    assert "proxy_pass http://127.0.0.1:8080;" in site and "server_name hub.local 10.0.0.5;" \
        in site


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "--silent", "--show-error", "--max-time", "20", *args],
                          capture_output=True, text=True, timeout=60)


def printed_web_settings(pki: Path, capsys) -> dict:
    """The ``[web]`` settings ``kuzet provision web`` tells the technician to put in hub.toml."""
    assert kuzet(["provision", "--dir", str(pki), "web", "--name", "localhost"]) == 0
    hint = re.search(r"in hub\.toml: \[web\] (.*)$", capsys.readouterr().out, re.M)
    assert hint, "no [web] settings printed"
    return tomllib.loads("web = {" + hint.group(1) + "}")["web"]


@pytest.fixture
def front(tmp_path, capsys):
    """A real hub (provisioning on, its TLS broker) on 127.0.0.1 behind nginx on HTTPS, with
    the [web] settings ``kuzet provision web`` prints (on a port of its own)."""
    with provisioned_broker(tmp_path) as (_prov, broker, pki):
        printed = printed_web_settings(pki, capsys)
        config = parse_config({
            "hub": {"data_dir": str(tmp_path / "hub"), "timezone": "Asia/Almaty"},
            "web": {**printed, "port": 0, "secret_key": SECRET, "threads": 16},
            "broker": {"host": "127.0.0.1", "port": broker.port,
                       "ca_file": str(pki / "ca.crt"), "cert_file": str(pki / "hub.crt"),
                       "key_file": str(pki / "hub.key")},
            "provisioning": {"enabled": True, "pki_dir": str(pki),
                             "node_broker_host": "127.0.0.1", "node_broker_port": broker.port,
                             "reload_command": f"kill -HUP {broker.proc.pid}"},
        }, "test-hub.toml")
        hub = HubServer(config).start()
        try:
            assert hub.services.ingest.connected.wait(10), hub.services.ingest.last_error
            seed(hub.services.writer)
            https, http = free_port(), free_port()
            _cert, _key, site = write_web_front(pki, WebFront(
                ("localhost", "127.0.0.1"), hub_port=hub.port, https_port=https,
                http_port=http, listen_address="127.0.0.1"))
            with NginxFront(tmp_path / "nginx", site, (https, http)):
                yield {"https": f"https://localhost:{https}", "http": f"http://localhost:{http}",
                       "ca": pki / "ca.crt", "tmp": tmp_path, "hub": hub}
        finally:
            hub.stop()


@pytest.mark.integration
def test_curl_trusts_the_hub_with_the_ca_and_only_with_it(front):
    ok = curl("--cacert", str(front["ca"]), "-D", "-", "-o", "/dev/null",
              f"{front['https']}/login")
    assert ok.returncode == 0, ok.stderr
    headers = ok.stdout.lower()
    assert headers.startswith("http/1.1 200")
    assert f"strict-transport-security: {HSTS}" in headers
    bare = curl("-o", "/dev/null", f"{front['https']}/login")   # the system's CAs only
    assert bare.returncode == 60 and "certificate" in bare.stderr.lower()
    plain = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                 f"{front['http']}/login?next=/tech/")
    assert plain.stdout == f"301 {front['https']}/login?next=/tech/"


def nss_home(tmp: Path, ca: Path | None) -> Path:
    """A HOME whose ~/.pki/nssdb (made with certutil) trusts ``ca`` for web sites."""
    home = tmp / ("home-ca" if ca else "home-none")
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                   capture_output=True, timeout=30)
    if ca is not None:
        subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", "Kuzet building CA",
                        "-t", "C,,", "-i", str(ca)], check=True, capture_output=True,
                       timeout=30)
    return home


@pytest.mark.integration
def test_chromium_that_trusts_the_ca_loads_the_hub_and_the_printed_enrolment_line_works(
        front):
    from playwright.sync_api import Error, sync_playwright

    tmp = front["tmp"]
    with sync_playwright() as p:
        stranger = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                                     env={**os.environ, "HOME": str(nss_home(tmp, None))})
        try:
            with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
                stranger.new_page().goto(f"{front['https']}/login")
        finally:
            stranger.close()

        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                                    env={**os.environ, "HOME": str(nss_home(tmp, front["ca"]))})
        try:
            page = browser.new_context().new_page()          # no ignore_https_errors
            response = page.goto(f"{front['https']}/login")
            assert response.ok and response.headers["strict-transport-security"] == HSTS
            login(page, front["https"], "tech", PASSWORD)    # the Secure cookie over HTTPS
            assert page.url.startswith(front["https"]) and "/login" not in page.url
            page.goto(f"{front['https']}/tech/")
            page.fill("form.add-node input[name=building]", "main")
            page.fill("form.add-node input[name=room]", "a101")
            page.fill("form.add-node input[name=name]", "cam1")
            page.click("form.add-node button[type=submit]")
            page.click("button.code")
            command = page.inner_text("pre.cmd")
            ca_pem = page.evaluate("fetch('/tech/ca.crt').then((r) => r.text())").encode()
        finally:
            browser.close()
    assert "--cacert ca.crt" in command and f"{front['https']}/enrol/fetch" in command
    assert "--proto '=https'" in command          # curl sends the code to nothing else
    (tmp / "pi").mkdir()
    (tmp / "pi" / "ca.crt").write_bytes(ca_pem)
    fetch = next(line for line in command.splitlines() if line.startswith("curl "))
    got = subprocess.run(shlex.split(fetch), cwd=tmp / "pi", capture_output=True, text=True,
                         timeout=60)
    assert got.returncode == 0, got.stderr
    assert (tmp / "pi" / "bundle.tar.gz").stat().st_size > 500     # with the node's key


def login_from(front, source: str, username: str, password: str) -> tuple[int, float]:
    """One sign-in through the front from the loopback address ``source`` (curl
    ``--interface``): the login page for its CSRF token and cookie, then the form. The status
    and the seconds the form took."""
    jar = str(front["tmp"] / f"jar-{source}")
    common = ["-4", "--interface", source, "--cacert", str(front["ca"]), "-c", jar, "-b", jar]
    page = curl(*common, f"{front['https']}/login")
    assert page.returncode == 0, page.stderr
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.stdout).group(1)
    sent = curl(*common, "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                "--data-urlencode", f"username={username}",
                "--data-urlencode", f"password={password}",
                "--data-urlencode", f"csrf_token={token}", f"{front['https']}/login")
    assert sent.returncode == 0, sent.stderr
    status, seconds = sent.stdout.split()
    return int(status), float(seconds)


def audited_addresses(hub: HubServer, action: str) -> list[str]:
    conn = connect(hub.services.db_path, readonly=True)
    rows = conn.execute("SELECT remote_addr FROM audit WHERE action=? ORDER BY id",
                        (action,)).fetchall()
    conn.close()
    return [r[0] for r in rows]


@pytest.mark.integration
def test_behind_the_front_a_guesser_does_not_lock_out_another_client(front):
    attacker, user = "127.0.0.3", "127.0.0.4"        # nginx reaches the hub from 127.0.0.1
    for _ in range(20):
        assert login_from(front, attacker, "aigerim", "wrong password")[0] in (401, 429)
    assert login_from(front, attacker, "aigerim", PASSWORD)[0] == 429    # the guesser waits
    status, seconds = login_from(front, user, "aigerim", PASSWORD)
    assert status == 302 and seconds < 2                                 # at once
    assert set(audited_addresses(front["hub"], "login.failed")) == {attacker}
    assert audited_addresses(front["hub"], "login") == [user]


@pytest.mark.integration
def test_an_enrolment_sent_over_plain_http_is_refused_by_the_front(front):
    bridge = front["hub"].app.extensions["kuzet_provisioning"]
    bridge.add("main/a101/cam1")
    code = bridge.new_code("main/a101/cam1")
    pi = front["tmp"] / "pi-http"
    pi.mkdir()
    mistyped = curl("--fail", "-o", str(pi / "bundle.tar.gz"), "--data-urlencode", f"code={code}",
                    f"{front['http']}/enrol/fetch", "-w", "%{http_code}")
    assert mistyped.returncode != 0 and mistyped.stdout == "000"     # no answer, no redirect
    assert not (pi / "bundle.tar.gz").exists()
    assert "node.fetch.refused" not in audited_actions(front["hub"])
    # the hub never saw the code: it still works, once, over HTTPS
    fetched = curl("--fail", "--proto", "=https", "--cacert", str(front["ca"]), "-o",
                   str(pi / "bundle.tar.gz"), "--data-urlencode", f"code={code}",
                   f"{front['https']}/enrol/fetch")
    assert fetched.returncode == 0, fetched.stderr
    assert (pi / "bundle.tar.gz").stat().st_size > 500
    # and the printed line's --proto keeps curl off plain HTTP even if the URL says http
    refused = curl("--fail", "--proto", "=https", "-o", "/dev/null", "--data-urlencode",
                   f"code={code}", f"{front['http']}/enrol/fetch")
    assert refused.returncode == 1 and "http" in refused.stderr.lower()


def audited_actions(hub: HubServer) -> list[str]:
    conn = connect(hub.services.db_path, readonly=True)
    rows = conn.execute("SELECT action FROM audit ORDER BY id").fetchall()
    conn.close()
    return [r[0] for r in rows]
