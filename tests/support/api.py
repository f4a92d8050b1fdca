"""A raw HTTP client for the embedded server, for tests that check the wire protocol itself."""

from __future__ import annotations

from typing import Any

import httpx

from hpo.server._process import RunningServer


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
