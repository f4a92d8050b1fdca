"""API clients for tests that check the wire protocol itself: over real HTTP (:class:`RawAPI`, one real
server per module with :func:`running_api`) or in process over ``create_app`` (:func:`in_process_app`,
:class:`InProcess`)."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from hpo import local_server
from hpo.local_server import RunningServer
from hpo.server._app import create_app
from hpo.server._config import ServerConfig
from tests.support.server import free_port


class RawAPI:
    """Calls ``/v2.23/service.action`` like the SDK does (GET with a JSON body), over real HTTP."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        creds = server.credentials()
        login = httpx.post(f"{server.url}/auth.login", auth=(creds.access_key, creds.secret_key), timeout=10)
        login.raise_for_status()
        self.token = login.json()["data"]["token"]
        self.client = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {self.token}"})

    def raw(self, endpoint: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.request("GET", f"/v2.23/{endpoint}", json=body if body is not None else {}, **kwargs)

    def call(self, endpoint: str, body: Any = None) -> dict[str, Any]:
        """The ``data`` of a successful call; fails the test on any error."""
        response = self.raw(endpoint, body)
        payload = response.json()
        assert response.status_code == 200, f"{endpoint} -> {response.status_code}: {payload['meta']}"
        return dict(payload["data"])

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def running_api(data_dir: Path) -> Iterator[RawAPI]:
    """A real server over ``data_dir`` on a free port and a logged-in :class:`RawAPI`; stopped at the end."""
    server, _ = local_server.start(data_dir, port=free_port())
    client = RawAPI(server)
    try:
        yield client
    finally:
        client.close()
        local_server.stop(data_dir)


@contextlib.contextmanager
def in_process_app(data_dir: Path, base_url: str = "http://testserver") -> Iterator[tuple[TestClient, str]]:
    """The whole app over ``data_dir`` in process (no watchdog runs) and an API token from ``auth.login``."""
    app = create_app(ServerConfig(data_dir=data_dir, watchdog_period_s=3600))
    with TestClient(app, base_url=base_url) as client:
        creds = app.state.server.credentials
        basic = base64.b64encode(f"{creds.access_key}:{creds.secret_key}".encode()).decode()
        login = client.post("/auth.login", headers={"Authorization": f"Basic {basic}"})
        yield client, str(login.json()["data"]["token"])


class InProcess:
    """The app in process, logged in: ``raw`` answers any status, ``call`` wants a 200, ``refused`` a 400."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def raw(self, endpoint: str, body: dict[str, Any]) -> Any:  # an httpx response
        return self.client.post(f"/v2.23/{endpoint}", content=json.dumps(body), headers=self.headers)

    def call(self, endpoint: str, body: dict[str, Any]) -> Any:
        response = self.raw(endpoint, body)
        assert response.status_code == 200, f"{endpoint}: {response.text[:300]}"
        return response.json()["data"]

    def refused(self, endpoint: str, body: dict[str, Any], subcode: int) -> str:
        """The message of a 400 with ``subcode``; fails the test on anything else."""
        response = self.raw(endpoint, body)
        meta = response.json()["meta"]
        assert (response.status_code, meta["result_subcode"]) == (400, subcode), meta
        return str(meta["result_msg"])
