"""The server under hostile input, over real HTTP: one regression test per root cause.

Each class of bad request answers 4xx with a ClearML-style message, stores nothing a listing
cannot serve back, and leaves the server answering everyone else (the canary reads).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hpo import local_server
from hpo.errors import ConfigError, ServerError
from tests.support.api import RawAPI
from tests.support.server import free_port

pytestmark = pytest.mark.xdist_group("hostile")  # its module-scoped fixtures are built once, on one worker

CANARIES = [
    ("tasks.get_all", {}),
    ("models.get_all", {}),
    ("projects.get_all", {}),
    ("queues.get_all", {}),
    ("workers.get_all", {}),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_server.RunningServer]:
    # The hostile requests are refused, so they change nothing: one server serves the module.
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    running, _ = local_server.start(data_dir, port=free_port())
    try:
        yield running
    finally:
        local_server.stop(data_dir)


@pytest.fixture(scope="module")
def api(server: local_server.RunningServer) -> Iterator[RawAPI]:
    client = RawAPI(server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def task_id(api: RawAPI) -> str:
    return str(api.call("tasks.create", {"name": "a" * 28 + "!", "type": "training"})["id"])


def raw_body(api: RawAPI, endpoint: str, content: bytes, ctype: str = "application/json") -> httpx.Response:
    return api.client.request("GET", f"/v2.23/{endpoint}", content=content, headers={"Content-Type": ctype})


def assert_refused(response: httpx.Response, needle: str = "", code: int = 400) -> None:
    assert response.status_code == code, response.text
    meta = response.json()["meta"]
    assert meta["result_code"] == code
    assert needle.lower() in meta["result_msg"].lower(), meta["result_msg"]


def assert_canaries(api: RawAPI, task_id: str) -> None:
    for endpoint, body in [*CANARIES, ("tasks.get_by_id", {"task": task_id})]:
        response = api.raw(endpoint, body)
        assert response.status_code == 200, f"{endpoint}: {response.text[:300]}"


@pytest.mark.parametrize("endpoint", ["tasks.get_all", "debug.ping", "auth.login"])
def test_deep_body_is_400(api: RawAPI, task_id: str, endpoint: str) -> None:
    assert_refused(raw_body(api, endpoint, b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}"), "nested")
    assert_canaries(api, task_id)


def test_deep_value_is_not_stored(api: RawAPI, task_id: str) -> None:
    deep: Any = 1
    for _ in range(500):
        deep = {"x": deep}
    event = {"task": task_id, "type": "log", "msg": "m", "timestamp": deep}
    assert_refused(api.raw("events.add", event), "nested")
    api.call("tasks.edit", {"task": task_id, "comment": "still writable"})
    assert_canaries(api, task_id)


def test_deepest_allowed_value_leaves_the_task_writable(api: RawAPI, task_id: str) -> None:
    deep: Any = "leaf"
    for _ in range(63):  # with the body itself: 64 levels, the most a body may nest
        deep = {"x": deep}
    api.call("tasks.edit", {"task": task_id, "runtime": deep})
    api.call("tasks.edit", {"task": task_id, "comment": "after"})
    event = {"task": task_id, "type": "log", "msg": "m", "level": "info"}
    assert raw_body(api, "events.add_batch", json.dumps(event).encode(), "application/json-lines").status_code == 200
    api.call("tasks.edit", {"task": task_id, "runtime": {}})
    assert_canaries(api, task_id)


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("tasks.create", '{"name": "\\ud800", "type": "training"}'),
        ("tasks.edit", '{"task": "%s", "comment": "x\\udfffy"}'),
        ("queues.create", '{"name": "q", "tags": ["\\ud800"]}'),
        ("tasks.edit", '{"task": "%s", "\\ud800": 1}'),
    ],
)
def test_lone_surrogate_is_400_and_nothing_is_stored(api: RawAPI, task_id: str, endpoint: str, body: str) -> None:
    content = (body % task_id if "%s" in body else body).encode()
    assert_refused(raw_body(api, endpoint, content), "surrogate")
    assert_canaries(api, task_id)


def test_invalid_utf8_is_400(api: RawAPI, task_id: str) -> None:
    assert_refused(raw_body(api, "tasks.create", b'{"name": "\xff\xfe", "type": "training"}'), "utf-8")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize(
    ("endpoint", "template"),
    [
        ("tasks.edit", '{"task": "%(task)s", "output_dest": %(v)s}'),
        ("tasks.edit", '{"task": "%(task)s", "runtime": {"x": %(v)s}}'),
        ("projects.create", '{"name": "p-nan", "description": %(v)s}'),
        ("events.add", '{"task": "%(task)s", "type": "training_stats_scalar", "metric": "m", "variant": "v",'
         ' "iter": 1, "value": %(v)s}'),
    ],
)  # fmt: skip
def test_non_finite_numbers_are_400(api: RawAPI, task_id: str, endpoint: str, template: str, literal: str) -> None:
    assert_refused(raw_body(api, endpoint, (template % {"task": task_id, "v": literal}).encode()))
    assert_canaries(api, task_id)


@pytest.mark.parametrize("iteration", ["9223372036854775808", '"seven"', "NaN", "1e300", "[1]"])
def test_event_iteration_must_be_a_64_bit_integer(api: RawAPI, task_id: str, iteration: str) -> None:
    fields = f'"task": "{task_id}", "type": "training_stats_scalar", "metric": "m", "variant": "v", "value": 1'
    line = "{" + fields + f', "iter": {iteration}' + "}"
    assert_refused(raw_body(api, "events.add_batch", line.encode(), "application/json-lines"))
    assert_canaries(api, task_id)


@pytest.mark.parametrize("endpoint", ["tasks.get_all", "projects.get_all_ex", "queues.get_all", "models.get_all"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order_by": 5}, "order_by"),
        ({"only_fields": [1]}, "only_fields[0]"),
        ({"only_fields": "x" * 1_000_000}, "only_fields"),
        ({"tags": [{"a": 1}]}, "tags[0]"),
        ({"id": [[]]}, "id[0]"),
        ({"page": -1, "page_size": 5}, "page"),
    ],
)
def test_wrong_typed_query_fields_are_400(api: RawAPI, task_id: str, endpoint: str, body: dict, field: str) -> None:
    assert_refused(api.raw(endpoint, body), f"'{field}'")
    assert_canaries(api, task_id)


def test_catastrophic_regex_runs_in_linear_time(api: RawAPI, task_id: str) -> None:
    # Python's re needs minutes for this against the task's name; RE2 answers at once.
    found = api.call("tasks.get_all", {"name": "^(a+)+$", "only_fields": ["id"]})
    assert task_id not in [t["id"] for t in found["tasks"]]
    assert [t["id"] for t in api.call("tasks.get_all", {"name": "^a+!$"})["tasks"]] == [task_id]


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [("(a)\\1", "RE2"), ("(?=a)b", "RE2"), ("(" * 5000, "regular expression"), ("a" * 5000, "at most")],
)
def test_patterns_re2_cannot_run_are_400(api: RawAPI, task_id: str, pattern: str, needle: str) -> None:
    assert_refused(api.raw("tasks.get_all", {"name": pattern}), needle)


def test_ping_answers_while_a_big_batch_is_stored(api: RawAPI, task_id: str) -> None:
    line = json.dumps({"task": task_id, "type": "training_stats_scalar", "metric": "m", "variant": "v", "value": 1})
    body = "\n".join(line[:-1] + f', "iter": {i}}}' for i in range(100_000)).encode()
    done = threading.Event()
    result: list[httpx.Response] = []

    def send() -> None:
        result.append(raw_body(api, "events.add_batch", body, "application/json-lines"))
        done.set()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        time.sleep(0.2)  # let the batch reach the server
        pinged_during = 0
        while not done.is_set():
            ping = httpx.post(f"{api.server.url}/debug.ping", json={}, timeout=30)
            assert ping.status_code == 200
            pinged_during += not done.is_set()
        # pings were answered while the batch was still being parsed and stored
        assert pinged_during > 0
    finally:
        sender.join()
    assert result[0].status_code == 200, result[0].text
    assert result[0].json()["data"]["added"] == 100_000


def _raw_request(server: local_server.RunningServer, head: str, body: bytes = b"", wait_s: float = 10) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=wait_s) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):  # the server closed on a body it would not read
            pass
        return b"".join(chunks)


def test_oversized_unauthenticated_body_is_413_before_it_is_read(server: local_server.RunningServer) -> None:
    head = "GET /debug.ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n"
    answer = _raw_request(server, head, b"{}")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"too large" in answer


def test_oversized_chunked_body_is_413(server: local_server.RunningServer) -> None:
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    head = "GET /debug.ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    answer = _raw_request(server, head, body)
    # refused after 64 KiB: the 413 arrives, unless the close that follows it reset the connection first
    assert answer.startswith(b"HTTP/1.1 413") or answer == b"", answer[:200]
    assert httpx.post(f"{server.url}/debug.ping", json={}).status_code == 200


def test_unauthenticated_body_is_never_read(server: local_server.RunningServer) -> None:
    head = "GET /tasks.get_all HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n"
    assert _raw_request(server, head, b"{").startswith(b"HTTP/1.1 401")


@pytest.mark.parametrize("endpoint", ["no_such.endpoint", "tasks.no_such_action", "server.info", "tasks.get_all"])
def test_every_endpoint_but_login_and_ping_needs_a_token_first(
    server: local_server.RunningServer, endpoint: str
) -> None:
    response = httpx.post(f"{server.url}/{endpoint}", json={})
    assert response.status_code == 401
    assert response.json()["meta"]["result_code"] == 401


def test_unknown_endpoint_with_a_token_is_400(api: RawAPI) -> None:
    assert_refused(api.raw("no_such.endpoint", {}), "Invalid endpoint")


def test_incomplete_body_is_dropped_after_the_timeout(tmp_path: Path) -> None:
    # a server with a short body timeout: the behaviour is the transport's, so over real HTTP
    import uvicorn

    from hpo.server import ServerConfig, create_app

    port = free_port()
    config = ServerConfig(data_dir=tmp_path / "data", port=port, body_timeout_s=1.0)
    served = uvicorn.Server(uvicorn.Config(create_app(config), port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    try:
        while not served.started:
            time.sleep(0.05)
        running = local_server.RunningServer(config.data_dir, os.getpid(), "127.0.0.1", port)
        client = RawAPI(running)
        token = client.token
        client.close()
        for path, ctype in (("/debug.ping", "application/json"), ("/files/", "multipart/form-data; boundary=b")):
            head = (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: 1000\r\n"
                f"Authorization: Bearer {token}\r\n"
            )
            started = time.monotonic()
            answer = _raw_request(running, head, b"--b\r\n", wait_s=20)
            # dropped by the server (408, or closed), not by this client's own 20 s wait
            assert time.monotonic() - started < 15, path
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    finally:
        served.should_exit = True
        thread.join(timeout=10)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_is_private_and_stop_removes_server_json(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, _ = local_server.start(data_dir, port=free_port())
    try:
        api = RawAPI(server)
        api.call("tasks.create", {"name": "private", "type": "training"})
        token = {"Authorization": f"Bearer {api.token}"}
        upload = httpx.post(f"{server.files_url}/", files={"/p/t/a.txt": ("/p/t/a.txt", b"hi")}, headers=token)
        assert upload.status_code == 200
        api.close()
        assert _mode(data_dir) == 0o700
        assert _mode(data_dir / "files") == 0o700
        for name in ("server.db", "server.db-wal", "server.db-shm", "server.log", "server.json", "credentials.json"):
            assert _mode(data_dir / name) == 0o600, name
        assert _mode(data_dir / "files" / "p" / "t" / "a.txt") == 0o600
    finally:
        local_server.stop(data_dir)
    assert not (data_dir / "server.json").exists()


def test_second_server_on_a_data_dir_is_refused_naming_the_first(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first, _ = local_server.start(data_dir, port=free_port())
    try:
        second = subprocess.run(
            [sys.executable, "-m", "hpo.server", "--data-dir", str(data_dir), "--port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        assert f"already served by pid {first.pid} on port {first.port}" in second.stderr, second.stderr
        assert local_server.find(data_dir) == first  # the first still serves, and is still found
    finally:
        local_server.stop(data_dir)


def test_lock_is_released_when_the_server_is_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first, _ = local_server.start(data_dir, port=free_port())
    os.kill(first.pid, 9)
    while local_server.find(data_dir) is not None:
        time.sleep(0.05)
    second, new = local_server.start(data_dir, port=free_port())
    try:
        assert new and second.pid != first.pid
    finally:
        local_server.stop(data_dir)


def test_start_names_the_port_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="99999 is not a TCP port"):
        local_server.start(tmp_path / "data", port=99999)
    running, _ = local_server.start(tmp_path / "data", port=free_port())
    try:
        other = free_port()
        with pytest.raises(ServerError, match=f"already runs at {running.url}.*not on port {other}"):
            local_server.start(tmp_path / "data", port=other)
    finally:
        local_server.stop(tmp_path / "data")


def test_ipv6_loopback_is_served(tmp_path: Path) -> None:
    server, _ = local_server.start(tmp_path / "data", host="::1", port=free_port())
    try:
        assert server.url == f"http://[::1]:{server.port}"
        client = RawAPI(server)
        assert client.call("tasks.get_all", {"only_fields": ["id"]}) == {"tasks": []}
        client.close()
    finally:
        local_server.stop(tmp_path / "data")


def test_unbindable_host_is_blamed_on_the_address(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="cannot bind 192.0.2.1 port .*Cannot assign requested address") as err:
        local_server.start(tmp_path / "data", host="192.0.2.1", port=free_port())
    assert "in use" not in str(err.value)


@pytest.fixture(scope="module")
def upload(api: RawAPI) -> Any:
    def send(path: str, content: bytes = b"x") -> httpx.Response:
        files = {path: (path, content)}
        return httpx.post(f"{api.server.files_url}/", files=files, headers={"Authorization": f"Bearer {api.token}"})

    return send


@pytest.mark.parametrize(
    ("setup", "path", "code"),
    [
        ("/edge/file.txt", "/edge/file.txt/below.txt", 409),  # the parent is a file
        ("/edge/dir/inner.txt", "/edge/dir", 409),  # onto an existing directory
        (None, "/edge/" + "n" * 300, 414),  # a name over the file system's limit
        (None, "/" + "/".join(["d" * 200] * 25), 400),  # a path over PATH_MAX: too long a part header
    ],
)
def test_file_server_edge_cases_are_4xx(upload: Any, api: RawAPI, setup: str | None, path: str, code: int) -> None:
    if setup:
        assert upload(setup).status_code == 200
    response = upload(path)
    assert response.status_code == code, response.text
    assert "error" in response.json()
    download = httpx.get(f"{api.server.files_url}{path}", headers={"Authorization": f"Bearer {api.token}"})
    assert download.status_code in (200, 404) if setup else download.status_code == 404


def test_too_many_upload_parts_are_refused(upload: Any, api: RawAPI) -> None:
    files = [(f"/many/{i}.txt", (f"/many/{i}.txt", b"x")) for i in range(17)]
    response = httpx.post(f"{api.server.files_url}/", files=files, headers={"Authorization": f"Bearer {api.token}"})
    assert response.status_code == 400
    assert "Too many files" in response.json()["error"]
    assert not (api.server.data_dir / "files" / "many").exists()


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("events.get_task_events", {"metrics": [{"metric": ["loss"]}]}, "metrics[0].metric"),
        ("events.get_task_events", {"metrics": [{"metric": {"a": 1}}]}, "metrics[0].metric"),
        ("events.get_task_events", {"metrics": [{"metric": 7, "variants": ["v"]}]}, "metrics[0].metric"),
        ("events.get_task_events", {"metrics": [{"metric": "m", "variants": [1]}]}, "metrics[0].variants[0]"),
        ("events.get_task_log", {"metrics": [{"metric": [None]}]}, "metrics[0].metric"),
        ("tasks.get_all", {"only_fields": [None]}, "only_fields[0]"),
        ("models.get_all", {"only_fields": ["name", None]}, "only_fields[1]"),
        ("projects.get_all", {"only_fields": [None]}, "only_fields[0]"),
        ("tasks.get_all", {"id": [None]}, "id[0]"),
    ],
)
def test_probe_inputs_once_5xx_are_400(api: RawAPI, task_id: str, endpoint: str, body: dict, field: str) -> None:
    if endpoint.startswith("events."):
        body = {"task": task_id, **body}
    assert_refused(api.raw(endpoint, body), f"'{field}'")
    assert_canaries(api, task_id)


def test_valid_metric_filter_still_answers(api: RawAPI, task_id: str) -> None:
    metric = "filter-probe"
    event = {"task": task_id, "type": "training_stats_scalar", "metric": metric, "variant": "v", "value": 1, "iter": 0}
    api.call("events.add", event)
    found = api.call("events.get_task_events", {"task": task_id, "metrics": [{"metric": metric}]})
    assert [e["metric"] for e in found["events"]] == [metric]


def _ui_tokens(server: local_server.RunningServer) -> tuple[str, str, str]:
    """A session cookie (signed in over HTTP), a used sign-in link token and an unused one."""
    from hpo.server.ui import sign_in_link

    creds = server.credentials()
    used = sign_in_link(creds, server.url)
    signed_in = httpx.get(used, follow_redirects=False, timeout=10)
    assert signed_in.status_code == 303
    cookie = signed_in.cookies["hpo_ui_session"]
    fresh = sign_in_link(creds, server.url)
    return cookie, used.split("token=", 1)[1], fresh.split("token=", 1)[1]


def test_ui_tokens_are_not_api_tokens(server: local_server.RunningServer, api: RawAPI) -> None:
    for token in _ui_tokens(server):
        bearer = {"Authorization": f"Bearer {token}"}
        for endpoint in ("tasks.get_all", "auth.validate_token", "auth.login"):
            response = httpx.post(f"{server.url}/v2.23/{endpoint}", json={}, headers=bearer, timeout=10)
            assert_refused(response, "not an API token", code=401)
        upload = httpx.put(f"{server.url}/files/p/x.txt", content=b"x", headers=bearer, timeout=10)
        assert upload.status_code == 401
    # the API's own token still works, for the API and the file server
    assert api.raw("auth.validate_token").status_code == 200
