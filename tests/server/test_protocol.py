"""ClearML's wire protocol: transport, envelopes, auth and bad input, over raw HTTP."""

from __future__ import annotations

import stat

import httpx
import pytest

from tests.support.api import RawAPI
from tests.support.server import Env


@pytest.fixture
def api(clearml: Env) -> RawAPI:
    client = RawAPI(clearml.server)
    yield client  # type: ignore[misc]
    client.close()


@pytest.mark.parametrize("prefix", ["", "/v2.5", "/v2.14", "/v2.23"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_any_version_prefix_and_method_is_served(api: RawAPI, prefix: str, method: str) -> None:
    response = api.client.request(method, f"{prefix}/projects.get_all", json={"name": "^x$", "method": "get"})
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["result_code"] == 200
    assert body["data"] == {"projects": []}


def test_login_with_wrong_keys_is_401(clearml: Env) -> None:
    response = httpx.post(f"{clearml.server.url}/auth.login", auth=("nope", "wrong"))
    assert response.status_code == 401
    assert response.json()["meta"]["result_code"] == 401


def test_login_token_carries_api_version(clearml: Env) -> None:
    import jwt

    token = RawAPI(clearml.server).token
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["api_version"] == "2.23"
    assert payload["server_version"]


@pytest.mark.parametrize("header", [None, "Bearer garbage", "Bearer a.b.c", "Basic Zm9vOmJhcg=="])
def test_calls_without_a_valid_token_are_401(clearml: Env, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.request("GET", f"{clearml.server.url}/tasks.get_all", json={}, headers=headers)
    assert response.status_code == 401
    assert response.json()["meta"]["result_code"] == 401


def test_credentials_file_is_private(clearml: Env) -> None:
    mode = stat.S_IMODE((clearml.server.data_dir / "credentials.json").stat().st_mode)
    assert mode == 0o600


@pytest.mark.parametrize(
    ("content", "ctype"),
    [(b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b'"text"', "application/json")],
)
def test_malformed_bodies_are_400_with_a_clearml_message(api: RawAPI, content: bytes, ctype: str) -> None:
    response = api.client.request("GET", "/tasks.create", content=content, headers={"Content-Type": ctype})
    assert response.status_code == 400
    meta = response.json()["meta"]
    assert meta["result_code"] == 400
    assert meta["result_msg"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("endpoint", "body", "needle"),
    [
        ("tasks.create", {"name": 5}, "'name' must be a str"),
        ("tasks.create", {}, "missing required field 'name'"),
        ("tasks.create", {"name": "x", "type": "bogus"}, "unknown task type"),
        ("tasks.get_by_id", {"task": "no-such-task"}, "Invalid task id"),
        ("tasks.get_all", {"name": "(unclosed"}, "Invalid regular expression"),
        ("tasks.get_all", {"page": "one", "page_size": 2}, "must be integers"),
        ("projects.get_by_id", {"project": "nope"}, "Invalid project id"),
    ],
)
def test_wrong_types_and_ids_are_400(api: RawAPI, endpoint: str, body: dict, needle: str) -> None:
    response = api.raw(endpoint, body)
    assert response.status_code == 400, response.text
    assert needle in response.json()["meta"]["result_msg"]


def test_unknown_fields_are_ignored(api: RawAPI) -> None:
    created = api.call("tasks.create", {"name": "x", "method": "get", "totally_unknown": {"a": 1}})
    task = api.call("tasks.get_by_id", {"task": created["id"]})["task"]
    assert "totally_unknown" not in task
    assert task["name"] == "x"


def test_a_failed_call_changes_nothing(api: RawAPI) -> None:
    task = api.call("tasks.create", {"name": "keep"})["id"]
    before = api.call("tasks.get_by_id", {"task": task})["task"]
    # a valid field followed by an invalid one: the whole call must be rejected
    response = api.raw("tasks.edit", {"task": task, "name": "changed", "type": "bogus"})
    assert response.status_code == 400
    after = api.call("tasks.get_by_id", {"task": task})["task"]
    assert after == before


def test_get_all_orders_pages_and_projects_fields(api: RawAPI) -> None:
    project = api.call("projects.create", {"name": "paging"})["id"]
    for i in range(7):
        api.call("tasks.create", {"name": f"t{i}", "project": project, "comment": str(i % 3)})
    page = api.call(
        "tasks.get_all",
        {"project": [project], "order_by": ["-comment", "name"], "page": 1, "page_size": 3, "only_fields": ["name"]},
    )["tasks"]
    assert [t["name"] for t in page] == ["t4", "t0", "t3"]
    assert set(page[0]) == {"id", "name"}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["a"], {"ab", "a"}),
        (["-a"], {"b", "none"}),
        (["__$all", "a", "b"], {"ab"}),
        (["a", "__$not", "b"], {"a"}),
        (["b", "-a"], {"b"}),
    ],
)
def test_tag_filters_use_clearml_operators(api: RawAPI, tags: list[str], expected: set[str]) -> None:
    project = api.call("projects.create", {"name": "tags"})["id"]
    for name, task_tags in {"ab": ["a", "b"], "a": ["a"], "b": ["b"], "none": []}.items():
        api.call("tasks.create", {"name": name, "project": project, "tags": task_tags})
    found = api.call("tasks.get_all", {"project": [project], "tags": tags, "only_fields": ["name"]})["tasks"]
    assert {t["name"] for t in found} == expected
