"""pytest fixtures for the hub (a plugin of tests/conftest.py)."""

from __future__ import annotations

import pytest

from hub.services import HubServices
from hub.web import create_app
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
