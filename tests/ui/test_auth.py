"""The UI refuses every page and action without a session, and every action without its CSRF token."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from hpo.server.ui import routes
from hpo.server.ui._login import safe_next
from tests.support.ui import UI

PUBLIC = {"/login", "/ui/static/{name}"}


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
