"""The few ClearML API calls ``hpo agent`` makes itself: queues to create, workers to list.

A minimal HTTP client rather than the SDK, because the SDK reads its configuration from the
process environment once, while agents may be started for an explicit ``env``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from hpo.connection import config_file, config_values
from hpo.errors import ServerError


def _from_config(env: Mapping[str, str]) -> dict[str, str]:
    """``api_server`` and credentials from the ``clearml.conf`` that ``env`` points to, if any."""
    path = config_file(env)
    if path is None:
        return {}
    found = config_values(path, "api.api_server", "api.credentials.access_key", "api.credentials.secret_key")
    return {
        "host": found.get("api.api_server", ""),
        "key": found.get("api.credentials.access_key", ""),
        "secret": found.get("api.credentials.secret_key", ""),
    }


class Client:
    """Calls ``service.action`` endpoints of the server that ``env`` names."""

    def __init__(self, env: Mapping[str, str], timeout: float = 10.0) -> None:
        conf = _from_config(env)
        self.api_host = (env.get("CLEARML_API_HOST") or conf.get("host") or "").rstrip("/")
        key = env.get("CLEARML_API_ACCESS_KEY") or conf.get("key") or ""
        secret = env.get("CLEARML_API_SECRET_KEY") or conf.get("secret") or ""
        if not self.api_host or not key or not secret:
            raise ServerError(
                "no ClearML server configured for the agents: set CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and"
                " CLEARML_API_SECRET_KEY (or api.* in clearml.conf), or use the embedded server (`hpo server start`)"
            )
        self._http = httpx.Client(timeout=timeout)
        self._auth = (key, secret)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _login(self) -> str:
        data = self._send("auth.login", {}, auth=self._auth)
        return str(data["token"])

    def _send(self, endpoint: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.post(f"{self.api_host}/{endpoint}", json=body, **kwargs)
            payload = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise ServerError(f"{endpoint} at {self.api_host} failed: {err}") from err
        meta = payload.get("meta", {}) if isinstance(payload, dict) else {}
        if response.status_code != 200:
            raise ServerError(
                f"{endpoint} at {self.api_host} answered {response.status_code}: {meta.get('result_msg')}"
            )
        data = payload.get("data")
        return data if isinstance(data, dict) else {}

    def call(self, endpoint: str, **body: Any) -> dict[str, Any]:
        if self._token is None:
            self._token = self._login()
        return self._send(endpoint, body, headers={"Authorization": f"Bearer {self._token}"})

    def ensure_queue(self, name: str) -> str:
        """The id of queue ``name``, created when missing."""
        for queue in self.call("queues.get_all", name=f"^{re.escape(name)}$", only_fields=["id", "name"])["queues"]:
            if queue.get("name") == name:
                return str(queue["id"])
        return str(self.call("queues.create", name=name)["id"])

    def workers(self) -> list[dict[str, Any]]:
        return list(self.call("workers.get_all").get("workers") or [])
