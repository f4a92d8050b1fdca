"""Large, slow and chunked request bodies as the SDK may send them under load: never cut, never a 400.

The SDK sends ``events.add_batch`` as json-lines bodies of 75-120 KB. Under load a body can take
longer to arrive than the connection guard's header timeout (``hpo.server._serve``), arrive in many
small pieces, chunked, or after ``Expect: 100-continue``; and the next request on the same kept-alive
connection must still parse. Checked over real loopback sockets with both of uvicorn's parsers, and
end to end against a real server whose events are counted back.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hpo.server._serve import ConnectionGuard
from tests.support.api import RawAPI, running_api
from tests.support.raw_http import guarded_server, read_response
from tests.support.server import Env

BODY = b"x" * 120_000


class _Echo:
    """An ASGI app that reads the whole body and answers its length."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        answer = str(size).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(answer))]}
        )
        await send({"type": "http.response.body", "body": answer})


def _trickle(sock: socket.socket, data: bytes, pieces: int, pause_s: float) -> None:
    step = -(-len(data) // pieces)
    for start in range(0, len(data), step):
        sock.sendall(data[start : start + step])
        time.sleep(pause_s)


def _chunked(data: bytes, size: int) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size]) for i in range(0, len(data), size)]
    return b"".join(parts) + b"0\r\n\r\n"


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_slow_bodies_past_the_header_timeout_are_answered_on_a_kept_alive_connection(http: str) -> None:
    guard = ConnectionGuard(cap=10, header_timeout_s=0.5)
    head = b"POST /v2.23/events.add_batch HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(BODY)
    with (
        guarded_server(_Echo(), guard, http) as port,
        socket.create_connection(("127.0.0.1", port), timeout=20) as sock,
    ):
        for _ in range(2):  # the second request's head comes in two pieces, its body over 1.2 s
            _trickle(sock, head, 2, 0.1)
            _trickle(sock, BODY, 12, 0.1)
            assert read_response(sock) == (b"HTTP/1.1 200 OK", b"%d" % len(BODY))
    assert guard.timed_out == 0


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_chunked_body_after_expect_100_continue_then_another_request(http: str) -> None:
    guard = ConnectionGuard(cap=10, header_timeout_s=0.5)
    head = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
    with (
        guarded_server(_Echo(), guard, http) as port,
        socket.create_connection(("127.0.0.1", port), timeout=20) as sock,
    ):
        sock.sendall(head)
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        _trickle(sock, _chunked(BODY, 7_000), 6, 0.15)
        assert read_response(sock) == (b"HTTP/1.1 200 OK", b"%d" % len(BODY))
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
        assert read_response(sock) == (b"HTTP/1.1 200 OK", b"3")
    assert guard.timed_out == 0


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawAPI]:
    with running_api(Path(tmp_path_factory.mktemp("transport")) / "data") as client:
        yield client


def test_sdk_sized_batches_slow_and_chunked_are_all_stored(api: RawAPI) -> None:
    """Two 1,000-event batches on one connection, the first chunked after 100-continue and trickled."""
    task = api.call("tasks.create", {"name": "transport", "type": "training"})["id"]
    lines = [
        json.dumps({"type": "training_stats_scalar", "task": task, "metric": "m", "variant": f"s{i % 20}",
                    "iter": i // 20, "value": i / 7, "timestamp": 1_700_000_000_000 + i})
        for i in range(2000)
    ]  # fmt: skip
    first, second = "\n".join(lines[:1000]).encode(), "\n".join(lines[1000:]).encode()
    assert len(first) > 75_000
    auth = f"Authorization: Bearer {api.token}\r\nContent-Type: application/json-lines\r\nHost: 127.0.0.1\r\n"
    server = api.server
    with socket.create_connection((server.host, server.port), timeout=60) as sock:
        sock.sendall(f"POST /v2.23/events.add_batch HTTP/1.1\r\n{auth}Transfer-Encoding: chunked\r\n".encode())
        sock.sendall(b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        _trickle(sock, _chunked(first, 16_384), 8, 0.1)
        status, body = read_response(sock)
        assert status == b"HTTP/1.1 200 OK", body
        assert json.loads(body)["data"]["added"] == 1000
        head = f"POST /v2.23/events.add_batch HTTP/1.1\r\n{auth}Content-Length: {len(second)}\r\n\r\n".encode()
        _trickle(sock, head + second, 10, 0.05)
        status, body = read_response(sock)
        assert status == b"HTTP/1.1 200 OK", body
    stored = api.call("events.get_task_events", {"task": task, "event_type": "training_stats_scalar", "batch_size": 1})
    assert stored["total"] == 2000


FORKS = """
import json, os, psutil
from clearml import Task
task = Task.init(project_name="transport", task_name="forks", auto_resource_monitoring=False)
task.get_logger().report_scalar("m", "v", value=1.0, iteration=0)
me = psutil.Process()


def runs_our_command_line(child):  # a fork runs our own command line
    try:
        return child.cmdline() == me.cmdline()
    except psutil.Error:  # a child that just ended (a zombie git from the repository detection, say)
        return False


forks = [child for child in me.children() if runs_our_command_line(child)]
print("RESULT " + json.dumps(len(forks)), flush=True)
if forks:  # the SDK's own subprocess reporter: its close can hang on a loaded machine (what this test warns of)
    for fork in forks:
        fork.kill()
    os._exit(0)
task.flush(wait_for_uploads=True)
task.close()
"""


@pytest.mark.parametrize("served", [True, False], ids=["served-environment", "sdk-default"])
def test_programs_on_the_served_environment_fork_no_reporting_subprocess(
    api: RawAPI, tmp_path: Path, served: bool
) -> None:
    """The SDK's reporting subprocess is forked with the parent's keep-alive connections to the server:
    two processes writing on one connection is what uvicorn answers ``400 Invalid HTTP request`` (a
    dropped batch) and what makes the SDK send a stored batch again. ``RunningServer.env`` (what
    ``hpo server env`` prints, what agents run with) turns it off; the SDK's default forks one."""
    home = tmp_path / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    base.update(HOME=str(home), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    if served:
        env = {**base, **api.server.env(base)}
    else:
        conf = tmp_path / "clearml.conf"
        conf.write_text("sdk { development { report_use_subprocess: true } }\n")
        env = {**base, **api.server.portable_env(), "CLEARML_CONFIG_FILE": str(conf)}
    result = Env(api.server, tmp_path, env).run(FORKS)
    assert result.result == (0 if served else 1), result.output
