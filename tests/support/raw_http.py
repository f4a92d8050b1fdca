"""HTTP over raw loopback sockets, for the transport tests: a guarded uvicorn server in a thread, and
reading what it answers byte by byte (what a real client library would hide: a close, a 100, framing).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from hpo.server._serve import ConnectionGuard, guarded_protocol


@contextlib.contextmanager
def guarded_server(app: Any, guard: ConnectionGuard, http: str) -> Iterator[int]:
    """``app`` served by uvicorn with ``http`` (``"httptools"`` or ``"h11"``) behind ``guard``, in a
    thread, on a free loopback port (yielded); stopped at the end."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=guarded_protocol(guard, http), log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def read_all(sock: socket.socket, timeout_s: float) -> bytes:
    """Everything ``sock`` receives until the peer closes it, ending in ``b"<still open>"`` when it is
    still open after ``timeout_s`` of silence."""
    sock.settimeout(timeout_s)
    chunks = []
    try:
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    except TimeoutError:
        chunks.append(b"<still open>")
    return b"".join(chunks)


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response's status line and body (content-length framed) from ``sock``, leaving the next."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head.split(b"\r\n")[0], rest[:length]
