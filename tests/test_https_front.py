"""HTTPS only: the hub refuses plain HTTP beyond loopback unless it sits behind its TLS front,
and that front (Debian's nginx with the site ``kuzet provision web`` writes, the certificate
from the building's CA) serves a real hub to curl and to a Chromium that trusts the CA through
an NSS database, redirects HTTP and sends HSTS; the printed enrolment line is HTTPS with
``--cacert`` and works as printed."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from hub.config import parse_config
from hub.server import HubServer
from kuzet.errors import ConfigError
from kuzet_tools.broker import free_port
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
    web = parse_config({"web": {"host": "0.0.0.0", "behind_tls_proxy": True}}).web
    assert web.behind_tls_proxy


def test_the_nginx_site_sends_hsts_redirects_http_and_proxies_to_loopback(tmp_path):
    from provisioning.web_front import nginx_site

    site = nginx_site(WebFront(("hub.local", "10.0.0.5"), hub_port=8080), tmp_path / "c",
                      tmp_path / "k")
    assert "listen 443 ssl;" in site and "listen 80;" in site
    assert "return 301 https://$host$request_uri;" in site
    assert f'Strict-Transport-Security "{HSTS}" always' in site
    assert "proxy_pass http://127.0.0.1:8080;" in site and "server_name hub.local 10.0.0.5;" \
        in site


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "--silent", "--show-error", "--max-time", "20", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def front(tmp_path):
    """A real hub (provisioning on, its TLS broker) on 127.0.0.1 behind nginx on HTTPS."""
    with provisioned_broker(tmp_path) as (_prov, broker, pki):
        config = parse_config({
            "hub": {"data_dir": str(tmp_path / "hub"), "timezone": "Asia/Almaty"},
            "web": {"host": "127.0.0.1", "port": 0, "secret_key": SECRET,
                    "behind_tls_proxy": True, "trusted_proxies": ["127.0.0.1"],
                    "threads": 16},
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
                       "ca": pki / "ca.crt", "tmp": tmp_path}
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
    (tmp / "pi").mkdir()
    (tmp / "pi" / "ca.crt").write_bytes(ca_pem)
    fetch = next(line for line in command.splitlines() if line.startswith("curl "))
    got = subprocess.run(shlex.split(fetch), cwd=tmp / "pi", capture_output=True, text=True,
                         timeout=60)
    assert got.returncode == 0, got.stderr
    assert (tmp / "pi" / "bundle.tar.gz").stat().st_size > 500     # with the node's key
