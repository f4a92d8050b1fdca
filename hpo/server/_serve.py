"""Running the server in the foreground (``python -m hpo.server``, ``hpo server start --foreground``).

Connections are guarded below the ASGI app (:class:`ConnectionGuard`), where uvicorn has no
limit of its own on how long a request's headers may take or how many connections stay open:

- a request's headers must arrive within :data:`HEADER_TIMEOUT_S` of the connection opening (or
  of the previous response, on a kept-alive connection), else the connection is closed (the app
  times out stalled bodies itself, ``body_timeout_s``);
- at most :func:`connection_cap` connections stay open, below the file-descriptor limit: a new
  one past the cap closes the oldest connection that has not yet sent a whole request head, else
  the oldest one idle between requests, and if every one is busy the newcomer gets 503
  (which the SDK retries) and is closed. So thousands of half-sent requests cannot use up the
  descriptors and shut out the SDK, agents, the UI or ``debug.ping``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import time
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hpo._processes import write_atomic
from hpo.errors import ConfigError, ServerError
from hpo.server._app import create_app
from hpo.server._config import DEFAULT_HOST, ServerConfig, runtime_config
from hpo.server._datadir import PORT_FILE, PRIVATE_UMASK, DataDirLock, remove_state, state_path

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 4096
FD_RESERVE = 256  # descriptors left for SQLite, uploads, logs and the listening socket
_BUSY_BODY = (
    b'{"meta":{"result_code":503,"result_subcode":0,"result_msg":'
    b'"Service unavailable: too many connections, retry later"},"data":{}}'
)
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


def connection_cap(limit: int | None = None) -> int:
    """How many connections may stay open: :data:`MAX_CONNECTIONS`, or fewer below ``RLIMIT_NOFILE``.

    Args:
        limit: The descriptor limit; None reads this process's soft ``RLIMIT_NOFILE``.
    """
    if limit is None:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, max(limit - FD_RESERVE, limit // 2)))


class ConnectionGuard:
    """The open connections of one server, oldest first, and what was done to keep them bounded.

    Thread-safety: the event loop only. The counters are for logs and tests.

    Args:
        cap: Connections held open at most.
        header_timeout_s: Longest wait for a request's headers.
    """

    def __init__(self, cap: int, header_timeout_s: float = HEADER_TIMEOUT_S) -> None:
        self.cap, self.header_timeout_s = cap, header_timeout_s
        self.open: dict[Any, None] = {}  # protocols, in the order they connected
        self.evicted = self.refused = self.timed_out = 0
        self._reported = 0.0

    def admit(self, newcomer: Any) -> bool:
        """Make room for ``newcomer`` (closing the oldest idle connection when at the cap)."""
        if len(self.open) >= self.cap:
            # first one that never sent a whole request head, then one idle between requests
            victim = next((p for p in self.open if p.cycle is None), None) or next(
                (p for p in self.open if p.idle()), None
            )
            if victim is None:
                self.refused += 1
                self._report()
                return False
            self.open.pop(victim)
            victim.transport.close()
            self.evicted += 1
            self._report()
        self.open[newcomer] = None
        return True

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._reported >= 60:
            self._reported = now
            log.warning(
                "%d connections open (cap %d): %d idle or half-sent closed for newcomers, %d refused with 503,"
                " %d timed out before their headers (a client opening connections it does not use?)",
                len(self.open), self.cap, self.evicted, self.refused, self.timed_out,
            )  # fmt: skip


class _Guarded:
    """Mixed in before uvicorn's HTTP protocol: the header deadline and the connection cap."""

    guard: ConnectionGuard
    _deadline: asyncio.TimerHandle | None = None
    _armed_for: Any = None
    _refused = False

    def idle(self) -> bool:
        """No request in progress: still sending headers, or between requests."""
        cycle = self.cycle  # type: ignore[attr-defined]
        return cycle is None or bool(cycle.response_complete)

    def _arm(self) -> None:
        self._armed_for = self.cycle  # type: ignore[attr-defined]
        self._deadline = self.loop.call_later(self.guard.header_timeout_s, self._headers_late)  # type: ignore[attr-defined]

    def _headers_late(self) -> None:
        self._deadline = None
        transport = self.transport  # type: ignore[attr-defined]
        if self.cycle is self._armed_for and not transport.is_closing():  # type: ignore[attr-defined]
            self.guard.timed_out += 1
            transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        if not self.guard.admit(self):
            # Answer, end our side, and read (discarding) the request a moment before closing:
            # closing with it unread would reset the connection and lose the answer.
            self._refused = True
            transport.write(BUSY_RESPONSE)  # type: ignore[attr-defined]
            if transport.can_write_eof():  # type: ignore[attr-defined]  # not under TLS
                transport.write_eof()  # type: ignore[attr-defined]
            self.loop.call_later(1.0, transport.close)  # type: ignore[attr-defined]
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._deadline is None and self.idle():  # a new request starts on a kept-alive connection
            self._arm()
        super().data_received(data)  # type: ignore[misc]
        if self._deadline is not None and self.cycle is not self._armed_for:  # type: ignore[attr-defined]
            self._deadline.cancel()  # the headers are in: the app times the body out
            self._deadline = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.open.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)  # type: ignore[misc]


def http_parser() -> str:
    """uvicorn's HTTP parser: ``httptools``, or ``h11`` when ``$HPO_SERVER_HTTP`` says so (an A/B for benches).

    Raises:
        ConfigError: ``$HPO_SERVER_HTTP`` names another parser.
    """
    name = os.environ.get("HPO_SERVER_HTTP", "httptools").strip().lower() or "httptools"
    if name not in ("httptools", "h11"):
        raise ConfigError(f"$HPO_SERVER_HTTP: unknown HTTP parser {name!r}; use httptools or h11")
    return name


def guarded_protocol(guard: ConnectionGuard, http: str = "httptools") -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (``"httptools"`` or ``"h11"``) under ``guard``."""
    base: type[asyncio.Protocol] = {"httptools": HttpToolsProtocol, "h11": H11Protocol}[http]
    return type(f"Guarded{base.__name__}", (_Guarded, base), {"guard": guard})


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host``:``port`` (IPv4 or IPv6, from the address).

    Raises:
        ServerError: The address cannot be bound; the message carries the OS's reason.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ServerError(f"--host {host}: cannot resolve it ({err.strerror}); use an IP address") from err
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        taken = " (another process listens there: run `hpo server start --port N` with a free port N)"
        hint = taken if err.errno == 98 else ""  # EADDRINUSE
        raise ServerError(f"cannot bind {host} port {port}: {err.strerror}{hint}") from err
    return sock


def serve(config: ServerConfig) -> None:
    """Serve until interrupted, recording pid, host and port in ``server.json``.

    Raises:
        ServerError: Another server holds the data dir, or the address cannot be bound.
    """
    os.umask(PRIVATE_UMASK)  # this process owns the data dir: everything it creates is private
    lock = DataDirLock(config.data_dir)
    lock.acquire()
    path = state_path(config.data_dir)
    sock: socket.socket | None = None
    try:
        sock = bind(config.host, config.port)
        port = sock.getsockname()[1]
        app = create_app(config)
        lock.record(port)
        state = config.state(os.getpid(), port)
        write_atomic(config.data_dir / PORT_FILE, str(port))
        write_atomic(path, json.dumps(state))
        protocol = guarded_protocol(ConnectionGuard(connection_cap()), http_parser())
        uv_config = uvicorn.Config(
            app, http=protocol, log_level="warning", access_log=False, lifespan="on",
            ssl_certfile=config.tls_cert, ssl_keyfile=config.tls_key,
        )  # fmt: skip
        server = uvicorn.Server(uv_config)
        server.run(sockets=[sock])
    finally:
        if sock is not None:  # a start that failed after binding (a full disk writing server.json)
            sock.close()
        remove_state(config.data_dir, os.getpid())
        lock.release()


def serve_foreground(data_dir: Path, host: str = DEFAULT_HOST, port: int | None = None) -> None:
    """Serve ``data_dir`` in this process with the same settings as ``python -m hpo.server``.

    Raises:
        ConfigError: The port or ``$HPO_SERVER_TASK_TIMEOUT`` is invalid.
        ServerError: Another server holds the data dir, or the address cannot be bound.
    """
    serve(runtime_config(data_dir, host, port))
