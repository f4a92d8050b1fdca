"""The UI refuses every page and action without a session, and every action without its CSRF token."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from hpo.server._app import HostGuard, host_name
from hpo.server._config import ServerConfig
from hpo.server.ui import routes
from hpo.server.ui._login import safe_next
from tests.support.ui import BASE, UI

PUBLIC = {"/login", "/ui/static/{name}", "/favicon.ico"}  # static, as browsers ask for it anywhere


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+(:path)?\}", "x1", path)


def _ui_routes(ui: UI) -> list[Route]:
    found = [r for r in routes(ui.client.app.state.server) if isinstance(r, Route)]  # type: ignore[attr-defined]
    assert len(found) > 20
    return found


def test_every_route_refused_without_a_session(ui: UI) -> None:
    checked = 0
    for route in _ui_routes(ui):
        if route.path in PUBLIC:
            continue
        path = _concrete(route.path)
        if "GET" in (route.methods or set()):
            response = ui.client.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next="), path
            checked += 1
        if "POST" in (route.methods or set()):
            response = ui.client.post(path, data={"csrf": "x"}, follow_redirects=False)
            assert response.status_code == 403, path
            checked += 1
    assert checked > 25


def test_actions_refused_without_the_csrf_token(ui: UI) -> None:
    task_id = ui.task("t")
    ui.sign_in()
    for action in ("clone", "archive", "reset", "abort", "tags"):
        for data in ({}, {"csrf": "0" * 64}):
            response = ui.client.post(f"/ui/actions/tasks/{task_id}/{action}", data=data, follow_redirects=False)
            assert response.status_code == 403, action
            assert "CSRF" in response.text
    tasks = ui.api("tasks.get_all", {})["tasks"]
    assert [t["id"] for t in tasks] == [task_id]
    assert "archived" not in tasks[0].get("system_tags", [])


def test_sign_in_link_works_once(ui: UI) -> None:
    from hpo.server.ui import sign_in_link

    link = sign_in_link(ui.client.app.state.server.credentials, "http://127.0.0.1:8008")  # type: ignore[attr-defined]
    first = ui.client.get(link, follow_redirects=False)
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    ui.client.cookies.clear()
    again = ui.client.get(link, follow_redirects=False)
    assert again.status_code == 403 and "expired or used" in again.text


def test_sign_in_form_checks_the_keys(ui: UI) -> None:
    creds = ui.client.app.state.server.credentials  # type: ignore[attr-defined]
    page = ui.client.get("/login?next=/models")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    wrong = ui.client.post("/login", data={"login_token": token, "access_key": creds.access_key, "secret_key": "no"})
    assert wrong.status_code == 403 and "Wrong access key" in wrong.text
    page = ui.client.get("/login?next=/models")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    right = ui.client.post(
        "/login",
        data={"login_token": token, "access_key": creds.access_key, "secret_key": creds.secret_key, "next": "/models"},
    )
    assert right.status_code == 200 and right.url.path == "/models"


def test_sign_in_form_refused_without_its_token(ui: UI) -> None:
    creds = ui.client.app.state.server.credentials  # type: ignore[attr-defined]
    response = ui.client.post("/login", data={"access_key": creds.access_key, "secret_key": creds.secret_key})
    assert response.status_code == 403
    assert ui.client.get("/projects", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["//evil.test/x", "https://evil.test/", "\\\\evil", "", "projects"])
def test_sign_in_never_redirects_off_site(target: str) -> None:
    assert safe_next(target) == "/projects"


def test_api_still_answers_beside_the_ui(ui: UI) -> None:
    assert ui.client.get("/debug.ping").status_code == 200
    assert ui.client.get("/v2.23/projects.get_all").status_code == 401


def _sign_in_form(ui: UI, secret_key: str) -> Any:
    creds = ui.client.app.state.server.credentials  # type: ignore[attr-defined]
    page = ui.client.get("/login")
    match = re.search(r'name="login_token" value="([^"]+)"', page.text)
    data = {"login_token": match.group(1) if match else "", "access_key": creds.access_key, "secret_key": secret_key}
    return ui.client.post("/login", data=data, follow_redirects=False)


def test_sign_out_revokes_the_session_cookie(ui: UI) -> None:
    ui.sign_in()
    cookie = ui.client.cookies["hpo_ui_session"]
    assert ui.client.get("/projects", follow_redirects=False).status_code == 200
    assert ui.post("/logout").status_code == 303
    ui.client.cookies.set("hpo_ui_session", cookie)  # a copy of the cookie, kept after signing out
    response = ui.client.get("/projects", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_ui_session_is_not_an_api_token(ui: UI) -> None:
    ui.sign_in()
    bearer = {"Authorization": f"Bearer {ui.client.cookies['hpo_ui_session']}"}
    for endpoint in ("projects.get_all", "auth.login"):
        response = ui.client.post(f"/v2.23/{endpoint}", json={}, headers=bearer)
        assert response.status_code == 401, endpoint
        assert "not an API token" in response.json()["meta"]["result_msg"]


def test_sign_in_is_throttled_per_address(ui: UI) -> None:
    creds = ui.client.app.state.server.credentials  # type: ignore[attr-defined]
    for _ in range(10):
        assert _sign_in_form(ui, "wrong").status_code == 403
    throttled = _sign_in_form(ui, creds.secret_key)  # even the right keys wait now
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert "Too many failed sign-ins" in throttled.text
    from hpo.server.ui import sign_in_link

    link = sign_in_link(creds, BASE)
    assert ui.client.get(link, follow_redirects=False).status_code == 429
    assert ui.client.get("/projects", follow_redirects=False).status_code == 303
    assert ui.client.get("/debug.ping").status_code == 200


def test_api_login_is_throttled_per_address(ui: UI) -> None:
    creds = ui.client.app.state.server.credentials  # type: ignore[attr-defined]
    wrong = base64.b64encode(f"{creds.access_key}:wrong".encode()).decode()
    right = base64.b64encode(f"{creds.access_key}:{creds.secret_key}".encode()).decode()
    for _ in range(10):
        assert ui.client.post("/auth.login", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    throttled = ui.client.post("/auth.login", headers={"Authorization": f"Basic {right}"})
    assert throttled.status_code == 429 and throttled.json()["meta"]["result_code"] == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert ui.api("projects.get_all", {}) is not None  # tokens already issued keep working


@pytest.mark.parametrize("host", ["evil.test", "evil.test:8008", "127.0.0.1.evil.test", "localhost.evil.test:8008"])
def test_ui_refuses_a_host_it_does_not_serve(ui: UI, host: str) -> None:
    ui.sign_in()
    for path in ("/projects", "/login", "/ui/static/ui.css"):
        response = ui.client.get(path, headers={"Host": host}, follow_redirects=False)
        assert response.status_code == 421, path
    assert ui.client.get("/debug.ping", headers={"Host": host}).status_code == 200  # the API needs no Host


@pytest.mark.parametrize("host", ["127.0.0.1:8008", "localhost:8008", "LOCALHOST", "[::1]:8008", "127.0.0.2"])
def test_ui_serves_loopback_hosts(ui: UI, host: str) -> None:
    ui.sign_in()
    assert ui.client.get("/projects", headers={"Host": host}, follow_redirects=False).status_code == 200


def test_host_guard_bound_to_every_address_takes_any_ip() -> None:
    guard = HostGuard(None, ServerConfig(Path("unused"), host="0.0.0.0"))  # type: ignore[arg-type]
    assert guard.serves(host_name("10.1.2.3:8008")) and guard.serves(host_name("[fe80::1]:8008"))
    assert not guard.serves(host_name("evil.test"))
    specific = HostGuard(None, ServerConfig(Path("unused"), host="10.1.2.3"))  # type: ignore[arg-type]
    assert specific.serves(host_name("10.1.2.3:8008")) and not specific.serves(host_name("10.9.9.9"))


def test_host_guard_serves_the_public_url_host() -> None:
    config = ServerConfig(Path("unused"), public_url="https://hpo.example.org:8443")
    guard = HostGuard(None, config)  # type: ignore[arg-type]
    assert guard.serves(host_name("HPO.example.org:8443")) and guard.serves(host_name("localhost"))
    assert not guard.serves(host_name("other.example.org"))
