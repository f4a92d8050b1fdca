"""Configuration of one embedded server instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

API_VERSION = "2.23"
SERVER_VERSION = "1.16.0"
DEFAULT_TASK_TIMEOUT_S = 90.0
TASK_TIMEOUT_ENV = "HPO_SERVER_TASK_TIMEOUT"  # overrides the default of ``python -m hpo.server``


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
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8008
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S
    watchdog_period_s: float = 5.0

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
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{port or self.port}"
