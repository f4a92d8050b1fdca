"""Fixtures for the web UI's in-process tier: the app over a fresh data dir, seeded through its API."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hpo.server._app import create_app
from hpo.server._config import ServerConfig
from tests.support.ui import BASE, UI


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[UI]:
    """The app over a fresh data dir, an API token, and a signed-out browser-like client."""
    app = create_app(ServerConfig(data_dir=tmp_path / "server", watchdog_period_s=3600))
    with TestClient(app, base_url=BASE) as client:
        creds = app.state.server.credentials
        basic = base64.b64encode(f"{creds.access_key}:{creds.secret_key}".encode()).decode()
        login = client.post("/auth.login", headers={"Authorization": f"Basic {basic}"})
        yield UI(client, login.json()["data"]["token"])
