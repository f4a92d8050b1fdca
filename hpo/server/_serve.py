"""Running the server in the foreground (``hpo server start --foreground``)."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

import uvicorn

from hpo._processes import write_atomic
from hpo.server._app import create_app
from hpo.server._config import ServerConfig

log = logging.getLogger(__name__)

STATE_FILE = "server.json"


# The port a data dir was last served on. Stored file and model URLs name it, so a restart
# without an explicit port reuses it.
PORT_FILE = "port"


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def last_port(data_dir: Path) -> int | None:
    try:
        return int((data_dir / PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def serve(config: ServerConfig) -> None:
    """Serve until interrupted, recording pid, host and port in ``server.json``."""
    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    port = sock.getsockname()[1]
    state = {"pid": os.getpid(), "host": config.host, "port": port, "url": config.base_url(port)}
    path = state_path(config.data_dir)
    write_atomic(config.data_dir / PORT_FILE, str(port))
    write_atomic(path, json.dumps(state))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
