"""Running the server in the foreground (``python -m hpo.server``, ``hpo server start --foreground``)."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

import uvicorn

from hpo._processes import write_atomic
from hpo.errors import ServerError
from hpo.server._app import create_app
from hpo.server._config import DEFAULT_HOST, ServerConfig, runtime_config
from hpo.server._datadir import PORT_FILE, PRIVATE_UMASK, DataDirLock, remove_state, state_path

log = logging.getLogger(__name__)


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
        hint = " (another process listens there: pass --port N)" if err.errno == 98 else ""  # EADDRINUSE
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
    try:
        sock = bind(config.host, config.port)
        port = sock.getsockname()[1]
        app = create_app(config)
        lock.record(port)
        state = {"pid": os.getpid(), "host": config.host, "port": port, "url": config.base_url(port)}
        write_atomic(config.data_dir / PORT_FILE, str(port))
        write_atomic(path, json.dumps(state))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
        server.run(sockets=[sock])
    finally:
        remove_state(config.data_dir, os.getpid())
        lock.release()


def serve_foreground(data_dir: Path, host: str = DEFAULT_HOST, port: int | None = None) -> None:
    """Serve ``data_dir`` in this process with the same settings as ``python -m hpo.server``.

    Raises:
        ConfigError: The port or ``$HPO_SERVER_TASK_TIMEOUT`` is invalid.
        ServerError: Another server holds the data dir, or the address cannot be bound.
    """
    serve(runtime_config(data_dir, host, port))
