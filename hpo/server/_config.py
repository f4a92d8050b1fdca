"""Configuration of one embedded server instance, and the one place its runtime settings are built."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hpo.errors import ConfigError

API_VERSION = "2.23"
SERVER_VERSION = "1.16.0"
DEFAULT_PORT = 8008
DEFAULT_HOST = "127.0.0.1"
DEFAULT_TASK_TIMEOUT_S = 90.0
TASK_TIMEOUT_ENV = "HPO_SERVER_TASK_TIMEOUT"  # overrides DEFAULT_TASK_TIMEOUT_S
# An authenticated JSON body (a big events batch, a task with a long script diff) stays far below.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
# A client that sends nothing for this long in the middle of a body is dropped.
DEFAULT_BODY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ServerConfig:
    """Where the server keeps its data and where it listens.

    Args:
        data_dir: Holds the SQLite database, uploaded files and credentials.
        host: Address to bind.
        port: Port to bind (0 picks a free one when started in-process).
        task_timeout_s: A task run by a worker that is silent this long is failed; a stop request
            nobody acknowledges this long ends the task ``stopped``.
        watchdog_period_s: How often stale tasks and workers are looked for.
        max_body_bytes: Largest authenticated API body (413 above it).
        body_timeout_s: Longest wait for the next chunk of a request body (408, then dropped).
        public_url: The URL other machines reach the server at, if any (the web UI serves its host).
    """

    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S
    watchdog_period_s: float = 5.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    public_url: str | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "server.db"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    def base_url(self, port: int | None = None) -> str:
        return client_url(self.host, port or self.port)


def client_url(host: str, port: int) -> str:
    """The URL a local client uses for a server bound to ``host``:``port`` (any-address binds: loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_port(port: int) -> int:
    """``port`` if it can be bound (0 = any free port).

    Raises:
        ConfigError: It is outside 0-65535.
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port: {port} is not a TCP port; use 1-65535 (or 0 for any free port)")
    return port


def runtime_config(
    data_dir: Path, host: str = DEFAULT_HOST, port: int | None = None, task_timeout_s: float | None = None
) -> ServerConfig:
    """The settings a served data dir runs with, for ``python -m hpo.server`` and ``--foreground`` alike.

    Args:
        data_dir: The data directory (made absolute).
        host: Address to bind.
        port: Port to bind; None means :data:`DEFAULT_PORT`.
        task_timeout_s: None means ``$HPO_SERVER_TASK_TIMEOUT``, else :data:`DEFAULT_TASK_TIMEOUT_S`.

    Raises:
        ConfigError: The port or the task timeout is invalid.
    """
    if task_timeout_s is None:
        env = os.environ.get(TASK_TIMEOUT_ENV)
        try:
            task_timeout_s = float(env) if env else DEFAULT_TASK_TIMEOUT_S
        except ValueError:
            raise ConfigError(f"{TASK_TIMEOUT_ENV}={env!r} is not a number of seconds; use e.g. 90") from None
    if not task_timeout_s > 0:
        raise ConfigError(f"--task-timeout must be positive, got {task_timeout_s}")
    return ServerConfig(
        data_dir=data_dir.expanduser().resolve(),
        host=host,
        port=check_port(DEFAULT_PORT if port is None else port),
        task_timeout_s=task_timeout_s,
        # look often enough that a short timeout (tests) is noticed promptly
        watchdog_period_s=min(5.0, task_timeout_s / 4),
    )
