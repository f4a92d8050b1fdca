"""The embedded server on this machine, seen from a client: start, find and stop its process.

This is client code: it runs ``python -m hpo.server`` as a child process and reads the state the
server writes into its data dir (``server.json``: pid, bound host and port, the advertised URL and
the local one), through ``hpo.server``'s public names only; the server package never imports it.

Addresses (see ``hpo.server._config``): :attr:`RunningServer.local_url` is what this machine uses
to check the process answers (loopback when bound to every address); :attr:`RunningServer.url` is
the advertised URL (``--public-url``, else the bound address, else this machine's primary address
when bound to ``0.0.0.0``), handed to every ClearML program by :meth:`RunningServer.env` and
:meth:`RunningServer.portable_env`, so links and stored file URLs work from other machines too.
"""

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
from typing import TYPE_CHECKING

import httpx

from hpo._processes import pid_alive
from hpo.clearml_conf import sdk_config_file
from hpo.errors import ConfigError, ServerError
from hpo.server import DEFAULT_HOST, DEFAULT_PORT, check_port, client_url, last_port, private_dir, remove_state
from hpo.server import state_path as _state_path

if TYPE_CHECKING:
    from hpo.server import Credentials

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0

# Servers this process started: kept so that stop() can reap them (no zombies, no warnings).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class RunningServer:
    """A server process that answers, as recorded in its data dir's ``server.json``.

    Attributes:
        data_dir: The data directory it serves.
        pid: Its process id.
        host: The address it is bound to.
        port: The port it listens on.
        advertised: The URL it advertises to clients; None: :attr:`local_url`.
        tls: Whether it serves HTTPS.
    """

    data_dir: Path
    pid: int
    host: str
    port: int
    advertised: str | None = None
    tls: bool = False

    @property
    def local_url(self) -> str:
        """The URL this machine reaches it at (loopback when bound to every address)."""
        return client_url(self.host, self.port, "https" if self.tls else "http")

    @property
    def url(self) -> str:
        """The URL every client is given (the advertised one)."""
        return self.advertised or self.local_url

    @property
    def files_url(self) -> str:
        return f"{self.url}/files"

    def credentials(self) -> Credentials:
        from hpo.server import load_or_create_credentials  # jwt: only for those who need the keys

        return load_or_create_credentials(self.data_dir / "credentials.json")

    def portable_env(self) -> dict[str, str]:
        """``CLEARML_*`` variables that point a ClearML program on any machine at this server.

        Addresses and keys only: no path on this machine (the SDK there reads its own ``clearml.conf``).
        """
        creds = self.credentials()
        return {
            "CLEARML_API_HOST": self.url,
            "CLEARML_WEB_HOST": self.url,
            "CLEARML_FILES_HOST": self.files_url,
            "CLEARML_API_ACCESS_KEY": creds.access_key,
            "CLEARML_API_SECRET_KEY": creds.secret_key,
        }

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """:meth:`portable_env` plus ``CLEARML_CONFIG_FILE``, for programs on this machine.

        ``CLEARML_CONFIG_FILE`` names a generated ``clearml.conf`` that includes the files a program
        run with ``base`` (default: this process's environment) would read and turns the SDK's
        reporting subprocess off, which deadlocks after a Dataset (``hpo.clearml_conf.SDK_OVERRIDES``),
        and makes this files server the default ``output_uri`` unless the user's files set another.
        """
        config = sdk_config_file(self.data_dir / "sdk", base, files_host=self.files_url)
        return {**self.portable_env(), "CLEARML_CONFIG_FILE": str(config)}


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether an embedded server answers ``debug.ping`` at ``url``.

    The certificate is not checked: this only asks whether the process of a recorded pid listens
    on its recorded local address (a loopback one, whose name the certificate need not carry);
    no credential is sent.
    """
    try:
        response = httpx.post(f"{url}/debug.ping", json={}, timeout=timeout, verify=False)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "meta" in response.json()


def recorded(data_dir: Path) -> RunningServer | None:
    """The server ``data_dir``'s ``server.json`` names, if its process is alive (nothing is contacted)."""
    try:
        state = json.loads(_state_path(data_dir).read_text())
        host, port = str(state["host"]), int(state["port"])
        local = str(state.get("local_url") or client_url(host, port))
        url = state.get("url")
        server = RunningServer(
            data_dir, int(state["pid"]), host, port, str(url) if url else None, local.startswith("https:")
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return server if pid_alive(server.pid) else None


def find(data_dir: Path) -> RunningServer | None:
    """The server serving ``data_dir``, if one is running and answers."""
    server = recorded(data_dir)
    return server if server is not None and answers(server.local_url) else None


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _server_command(
    data_dir: Path,
    host: str,
    port: int,
    task_timeout_s: float | None,
    public_url: str | None,
    tls: tuple[Path, Path] | None,
) -> list[str]:
    return [
        sys.executable, "-m", "hpo.server", "--data-dir", str(data_dir), "--host", host, "--port", str(port),
        *(["--task-timeout", str(task_timeout_s)] if task_timeout_s is not None else []),
        *(["--public-url", public_url] if public_url else []),
        *(["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])] if tls else []),
    ]  # fmt: skip


def _running(data_dir: Path, port: int | None, public_url: str | None) -> RunningServer | None:
    """The server already serving ``data_dir``, if any; an error if it serves elsewhere than asked."""
    running = find(data_dir)
    if running is None:
        return None
    if port not in (None, 0, running.port):
        raise ServerError(
            f"the server already runs at {running.url} (pid {running.pid}), not on port {port};"
            " stop it first (hpo server stop) to serve on another port"
        )
    if public_url and public_url.rstrip("/") != running.url:
        raise ServerError(
            f"the server already runs at {running.url} (pid {running.pid}), not at {public_url};"
            " stop it first (hpo server stop) to advertise another URL"
        )
    return running


def start(
    data_dir: Path,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    task_timeout_s: float | None = None,
    *,
    public_url: str | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> tuple[RunningServer, bool]:
    """Start a background server for ``data_dir`` unless one runs; returns it and whether it is new.

    With no ``port``, the server takes the port this data dir was last served on (stored file and
    model URLs name it), else DEFAULT_PORT (8008), else a free port when that is taken (another data dir's server,
    say); ``server.json`` records it, so every command finds it. A taken explicit port is an error.

    ``task_timeout_s`` (default: ``$HPO_SERVER_TASK_TIMEOUT`` or 90 s), ``public_url`` (the URL
    advertised to clients) and ``tls_cert``/``tls_key`` (serve HTTPS) only apply to a new server.

    Raises:
        ConfigError: ``port`` is not a TCP port, or only one of ``tls_cert`` and ``tls_key`` is given.
        ServerError: The server already runs on another port than ``port`` or at another URL than
            ``public_url``, or the process exited or did not answer within the start timeout.
    """
    data_dir = data_dir.expanduser().resolve()
    if port is not None:
        check_port(port)
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together; pass both (PEM files) or neither")
    for pid, child in list(_children.items()):  # reap servers of ours that died (killed, crashed)
        if child.poll() is not None:
            del _children[pid]
    running = _running(data_dir, port, public_url)
    if running is not None:
        return running, False
    private_dir(data_dir)
    from hpo.server import load_or_create_credentials  # jwt: only when a server starts

    load_or_create_credentials(data_dir / "credentials.json")
    _state_path(data_dir).unlink(missing_ok=True)
    why = ""
    if port is None:
        port = last_port(data_dir) or (DEFAULT_PORT if _port_free(host, DEFAULT_PORT) else 0)
        why = _port_reason(port, host)
    log.info("starting the embedded server (data in %s)", data_dir, extra={"step": True})
    tls = (tls_cert.expanduser().resolve(), tls_key.expanduser().resolve()) if tls_cert and tls_key else None
    log_path = data_dir / "server.log"
    cmd = _server_command(data_dir, host, port, task_timeout_s, public_url, tls)
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
            log.info("embedded server started on port %d%s: %s", server.port, why, server.url, extra={"step": True})
            return server, True
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise ServerError(f"the embedded server did not answer within {START_TIMEOUT_S:.0f} s; see {log_path}")


def _port_reason(port: int, host: str) -> str:
    """Why a new server of a data dir does not take the default port (empty when it does)."""
    if port == DEFAULT_PORT:
        return ""
    if port:
        return f" (the port this data dir was served on before; not {DEFAULT_PORT})"
    return f" (port {DEFAULT_PORT} on {host} is taken by another program)"


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


__all__ = ["START_TIMEOUT_S", "RunningServer", "answers", "find", "recorded", "start", "stop"]
