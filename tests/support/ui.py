"""Helpers for the web UI's in-process tier: a TestClient on the app, seeded through its API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.testclient import TestClient

from hpo.server.ui import sign_in_link

BASE = "http://127.0.0.1:8008"


@dataclass
class UI:
    """A TestClient on the whole app: ``api`` calls the ClearML API, ``get``/``post`` the UI."""

    client: TestClient
    token: str

    def api(self, endpoint: str, body: dict[str, Any] | None = None, lines: list[dict[str, Any]] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        if lines is not None:
            headers["Content-Type"] = "application/json-lines"
            content = "\n".join(json.dumps(line) for line in lines)
        else:
            content = json.dumps(body or {})
        response = self.client.post(f"/v2.23/{endpoint}", content=content, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def sign_in(self) -> None:
        state = self.client.app.state.server  # type: ignore[attr-defined]
        response = self.client.get(sign_in_link(state.credentials, BASE, "/projects"))
        assert response.status_code == 200 and response.url.path == "/projects"

    def csrf(self, path: str = "/projects") -> str:
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', self.client.get(path).text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True) -> Any:
        form = {**(data or {}), **({"csrf": self.csrf()} if csrf else {})}
        return self.client.post(path, data=form, follow_redirects=False)

    def task(self, name: str, project: str | None = None, **params: tuple[str, str]) -> str:
        body: dict[str, Any] = {"name": name, "type": "training"}
        if project:
            body["project"] = project
        task_id = str(self.api("tasks.create", body)["id"])
        items = [{"section": "General", "name": k, "value": v, "type": t} for k, (v, t) in params.items()]
        if items:
            self.api("tasks.edit_hyper_params", {"task": task_id, "hyperparams": items})
        return task_id

    def scalars(self, task_id: str, title: str, series: str, values: list[float]) -> None:
        lines = [{"type": "training_stats_scalar", "task": task_id, "metric": title, "variant": series,
                  "value": v, "iter": i, "timestamp": 1000 + i} for i, v in enumerate(values)]  # fmt: skip
        self.api("events.add_batch", lines=lines)

    def log(self, task_id: str, *messages: str) -> None:
        lines = [{"type": "log", "task": task_id, "msg": m, "level": "info", "timestamp": 1000 + i}
                 for i, m in enumerate(messages)]  # fmt: skip
        self.api("events.add_batch", lines=lines)
