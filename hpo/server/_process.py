"""Starting, finding and stopping a background server process for a data directory."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from hpo._processes import pid_alive
from hpo.connection import sdk_config_file
from hpo.errors import ServerError
from hpo.server._auth import Credentials, load_or_create_credentials
from hpo.server._config import DEFAULT_HOST, DEFAULT_PORT, check_port, client_url
from hpo.server._datadir import last_port, private_dir, remove_state, state_path

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0

# Servers this process started: kept so that stop() can reap them (no zombies, no warnings).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class RunningServer:
    """A server process that answers, as recorded in its data dir's ``server.json``."""

    data_dir: Path
    pid: int
    host: str
    port: int

    @property
    def url(self) -> str:
        return client_url(self.host, self.port)

    @property
    def files_url(self) -> str:
        return f"{self.url}/files"

    def credentials(self) -> Credentials:
        return load_or_create_credentials(self.data_dir / "credentials.json")

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``CLEARML_*`` variables that point any ClearML program at this server.

        ``CLEARML_CONFIG_FILE`` names a generated ``clearml.conf`` that includes the files a program
        run with ``base`` (default: this process's environment) would read and turns the SDK's
        reporting subprocess off, which deadlocks after a Dataset (``hpo.connection.SDK_OVERRIDES``), and
        makes this files server the default ``output_uri`` unless the user's files set another.
        """
        creds = self.credentials()
        return {
            "CLEARML_API_HOST": self.url,
            "CLEARML_WEB_HOST": self.url,
            "CLEARML_FILES_HOST": self.files_url,
            "CLEARML_API_ACCESS_KEY": creds.access_key,
            "CLEARML_API_SECRET_KEY": creds.secret_key,
            "CLEARML_CONFIG_FILE": str(sdk_config_file(self.data_dir / "sdk", base, files_host=self.files_url)),
        }


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        response = httpx.post(f"{url}/debug.ping", json={}, timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "meta" in response.json()


def recorded(data_dir: Path) -> RunningServer | None:
    """The server ``data_dir``'s ``server.json`` names, if its process is alive (nothing is contacted)."""
    try:
        state = json.loads(state_path(data_dir).read_text())
        server = RunningServer(data_dir, int(state["pid"]), str(state["host"]), int(state["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return server if pid_alive(server.pid) else None


def find(data_dir: Path) -> RunningServer | None:
    """The server serving ``data_dir``, if one is running and answers."""
    server = recorded(data_dir)
    return server if server is not None and answers(server.url) else None


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def start(
    data_dir: Path, host: str = DEFAULT_HOST, port: int | None = None, task_timeout_s: float | None = None
) -> tuple[RunningServer, bool]:
    """Start a background server for ``data_dir`` unless one runs; returns it and whether it is new.

    With no ``port``, the server takes the port this data dir was last served on (stored file and
    model URLs name it), else DEFAULT_PORT (8008), else a free port when that is taken (another data dir's server,
    say); ``server.json`` records it, so every command finds it. A taken explicit port is an error.

    ``task_timeout_s`` (default: ``$HPO_SERVER_TASK_TIMEOUT`` or 90 s) only applies to a new server.

    Raises:
        ConfigError: ``port`` is not a TCP port.
        ServerError: The server already runs on another port than ``port``, or the process exited
            or did not answer within the start timeout.
    """
    data_dir = data_dir.expanduser().resolve()
    if port is not None:
        check_port(port)
    for pid, child in list(_children.items()):  # reap servers of ours that died (killed, crashed)
        if child.poll() is not None:
            del _children[pid]
    running = find(data_dir)
    if running is not None:
        if port not in (None, 0, running.port):
            raise ServerError(
                f"the server already runs at {running.url} (pid {running.pid}), not on port {port};"
                " stop it first (hpo server stop) to serve on another port"
            )
        return running, False
    private_dir(data_dir)
    load_or_create_credentials(data_dir / "credentials.json")
    state_path(data_dir).unlink(missing_ok=True)
    if port is None:
        port = last_port(data_dir) or (DEFAULT_PORT if _port_free(host, DEFAULT_PORT) else 0)
    log_path = data_dir / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "hpo.server",
        "--data-dir",
        str(data_dir),
        "--host",
        host,
        "--port",
        str(port),
        *(["--task-timeout", str(task_timeout_s)] if task_timeout_s is not None else []),
    ]
    with open(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log_file:
        os.chmod(log_path, 0o600)
        start_offset = log_file.tell()
        proc = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise _start_failure(proc.returncode, host, port, log_path, start_offset)
        server = find(data_dir)
        if server is not None:
            _children[proc.pid] = proc
            return server, True
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise ServerError(f"the embedded server did not answer within {START_TIMEOUT_S:.0f} s; see {log_path}")


def _start_failure(code: int, host: str, port: int, log_path: Path, offset: int) -> ServerError:
    """Why a server process exited while starting: its own ``[error]`` line when it wrote one."""
    with open(log_path, "rb") as fh:
        fh.seek(offset)
        written = fh.read().decode(errors="replace")
    reasons = [line[len("[error] ") :] for line in written.splitlines() if line.startswith("[error] ")]
    if reasons:
        return ServerError(f"the embedded server did not start: {reasons[-1]}")
    return ServerError(
        f"the embedded server exited with code {code} while starting on {host} port {port}."
        f" Its log ({log_path}) ends with:\n{written[-2000:]}"
    )


def stop(data_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the server of ``data_dir``; False when none was running."""
    server = find(data_dir.expanduser().resolve())
    if server is None:
        return False
    os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    child = _children.get(server.pid)
    while time.monotonic() < deadline and pid_alive(server.pid):
        if child is not None and child.poll() is not None:
            break
        time.sleep(0.05)
    if pid_alive(server.pid):
        os.kill(server.pid, signal.SIGKILL)
    child = _children.pop(server.pid, None)
    if child is not None:
        child.wait()
    remove_state(server.data_dir, server.pid)  # a SIGKILLed server could not remove it itself
    return True
