"""pytest fixtures for the hub (a plugin of tests/conftest.py)."""

from __future__ import annotations

import pytest

from hub.server import HubServer
from hub.services import HubServices
from hub.web.app import create_app
from tests.support.hub_env import make_config, seed

__all__ = ["app", "client", "hub_config", "seeded", "services"]


@pytest.fixture
def hub_config(tmp_path):
    return make_config(tmp_path)


@pytest.fixture
def services(hub_config):
    svc = HubServices(hub_config).start(ingest=False)
    yield svc
    svc.stop()


@pytest.fixture
def seeded(services):
    return seed(services.writer)


@pytest.fixture
def app(hub_config, services, seeded):
    app = create_app(hub_config, services)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_hub(tmp_path, broker):
    """A whole hub (ingest on the test broker, web on a free port) with the seeded users,
    rooms and sessions: for browser tests."""
    server = HubServer(make_config(tmp_path, broker.port)).start()
    assert server.services.ingest.connected.wait(10)
    seed(server.services.writer)
    yield server
    server.stop()


@pytest.fixture
def browser():
    """A headless Debian Chromium driven by playwright (tests/support/hub_browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.support.hub_browser import launch

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
