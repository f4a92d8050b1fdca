"""The server under a connection flood, over real loopback sockets: bounded count, bounded time.

A client that opens connections and sends half a request line must not use up the server's file
descriptors (refusing everyone else) nor hold them for ever: ``hpo.server._serve`` caps the open
connections below the descriptor limit and times out requests whose headers do not arrive.
The server runs with a soft ``RLIMIT_NOFILE`` of 1,024, so 1,500 connections would exhaust it.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hpo import local_server
from hpo.server._serve import HEADER_TIMEOUT_S, ConnectionGuard, connection_cap
from tests.support.api import RawAPI
from tests.support.raw_http import guarded_server, read_all
from tests.support.server import Env, free_port, sdk_env

pytestmark = pytest.mark.xdist_group("hostile")

SERVER_FD_LIMIT = 1024
FLOOD = 1500
HALF_REQUEST = b"GET /v2.23/debug.ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class Flood:
    """Holds up to ``count`` connections that each sent half a request; may top them up in a thread."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.held: list[socket.socket] = []
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _open(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(HALF_REQUEST)
        sock.setblocking(False)
        self.held.append(sock)

    def reap(self) -> int:
        """Close the connections the server closed; how many there were."""
        alive = []
        for sock in self.held:
            try:
                gone = sock.recv(4096, socket.MSG_PEEK) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                sock.close()
            else:
                alive.append(sock)
        closed, self.held = len(self.held) - len(alive), alive
        self.closed_by_server += closed
        return closed

    def top_up(self, at_most: int | None = None) -> None:
        self.reap()
        missing = self.count - len(self.held)
        for _ in range(missing if at_most is None else min(missing, at_most)):
            self._open()

    def keep_up(self, seconds: float) -> None:
        """Replace closed connections (100 every 0.2 s) in a thread, for at most ``seconds``."""

        def run() -> None:
            deadline = time.monotonic() + seconds
            while not self._stop.is_set() and time.monotonic() < deadline:
                self.top_up(at_most=100)
                self._stop.wait(0.2)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop_topping_up(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def close(self) -> None:
        self.stop_topping_up()
        for sock in self.held:
            sock.close()
        self.held = []


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[local_server.RunningServer]:
    """A server started with a soft descriptor limit of 1,024 (the test process keeps its own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FLOOD + 512
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard RLIMIT_NOFILE ({hard}) is below the {needed} descriptors this test holds")
    data_dir = tmp_path / "server"
    resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_FD_LIMIT, hard))  # inherited by the server only
    try:
        server, _ = local_server.start(data_dir, port=free_port())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    try:
        yield server
    finally:
        local_server.stop(data_dir)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_connection_cap_stays_below_the_descriptor_limit() -> None:
    assert connection_cap(1024) == 768
    assert connection_cap(20_000) == 4096
    assert connection_cap(100) == 50


def test_flood_of_half_requests_leaves_the_server_answering(limited_server: local_server.RunningServer) -> None:
    api = RawAPI(limited_server)
    task_id = api.call("tasks.create", {"name": "before the flood", "type": "training"})["id"]
    flood = Flood(limited_server.port, FLOOD)
    try:
        started = time.monotonic()
        flood.top_up()  # 1,500 half-sent requests against a 1,024-descriptor server
        assert time.monotonic() - started < 30
        flood.keep_up(seconds=90)

        with httpx.Client(base_url=limited_server.url, timeout=5) as fresh:
            for _ in range(3):
                started = time.monotonic()
                assert fresh.get("/debug.ping").status_code == 200
                assert time.monotonic() - started < 5
        api.client.close()  # a new connection, as a new SDK process would open
        api = RawAPI(limited_server)
        assert api.call("tasks.get_by_id", {"task": task_id})["task"]["name"] == "before the flood"

        env = Env(
            limited_server, limited_server.data_dir.parent, sdk_env(limited_server, limited_server.data_dir.parent)
        )
        started = time.monotonic()
        result = env.run(
            f"""
            import json
            from clearml import Task
            print("RESULT " + json.dumps(Task.get_task(task_id="{task_id}").name))
            """,
            timeout=120,
        )
        assert result.result == "before the flood"
        sdk_s = time.monotonic() - started
        assert sdk_s < 60, f"the SDK call took {sdk_s:.1f} s under the flood"
        assert flood.closed_by_server >= FLOOD - connection_cap(SERVER_FD_LIMIT)  # the cap made room

        # Half-sent requests time out: nothing the flood holds now outlives the header timeout.
        flood.stop_topping_up()
        held = len(flood.held)
        assert held > 0
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 10
        while flood.held and time.monotonic() < deadline:
            time.sleep(0.5)
            flood.reap()
        assert not flood.held, f"{len(flood.held)} of {held} half-sent requests still open after the header timeout"
    finally:
        flood.close()
        api.close()
    with httpx.Client(base_url=limited_server.url, timeout=5) as fresh:
        assert fresh.get("/debug.ping").status_code == 200


class _Slow:
    """An ASGI app that answers after ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(self.delay_s)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_half_sent_headers_time_out_also_on_a_kept_alive_connection(http: str) -> None:
    guard = ConnectionGuard(cap=10, header_timeout_s=0.5)
    with guarded_server(_Slow(0.0), guard, http) as port:
        with socket.create_connection(("127.0.0.1", port)) as first:
            first.sendall(HALF_REQUEST)
            assert read_all(first, 5) == b""  # closed without an answer
        with socket.create_connection(("127.0.0.1", port)) as kept:
            kept.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            time.sleep(0.2)
            kept.sendall(HALF_REQUEST)  # a second request on the same connection, never finished
            answer = read_all(kept, 5)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
        assert guard.timed_out == 2


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_connections_past_the_cap_close_half_sent_ones_else_get_503(http: str) -> None:
    guard = ConnectionGuard(cap=2, header_timeout_s=30)
    with guarded_server(_Slow(1.5), guard, http) as port:
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(HALF_REQUEST)
        busy = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        for sock in busy:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            time.sleep(0.1)
        assert read_all(half, 5) == b""  # the half-sent request made room for a whole one
        late = socket.create_connection(("127.0.0.1", port))  # both slots busy: 503 at once
        late.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        started = time.monotonic()
        refused = read_all(late, 5)
        assert refused.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in refused.lower()
        assert time.monotonic() - started < 1
        for sock in busy:
            assert read_all(sock, 5).startswith(b"HTTP/1.1 200")
        for sock in [half, late, *busy]:
            sock.close()
        assert (guard.evicted, guard.refused) == (1, 1)
