"""Which ClearML server the suite talks to: decided here, once.

Precedence, highest first:

1. a command-line option (``--api-host``);
2. the environment: ``CLEARML_API_HOST`` (with ``CLEARML_API_ACCESS_KEY``/``CLEARML_API_SECRET_KEY``
   and ``CLEARML_FILES_HOST``, read by the SDK itself);
3. a ``clearml.conf`` with ``api.api_server`` set: ``$CLEARML_CONFIG_FILE``, else ``~/clearml.conf``
   (the files the SDK reads);
4. the embedded server of ``$HPO_HOME/server`` (``HPO_HOME`` defaults to ``~/.hpo``), started on demand.

An address from 1-3 that is that embedded server, running on this machine (its ``server.json``
names a live process at that address: a shell that ran ``eval "$(hpo server env)"``), resolves to
the embedded default too, so a search there starts local workers as with nothing configured.

``connect()`` resolves the server, exports what the SDK needs into ``os.environ`` (so call it before
the first SDK call) and checks that the server answers: with an unreachable server the SDK would
otherwise retry silently for hours.

The embedded server's process is managed by :mod:`hpo.local_server` (client code); the
``clearml.conf`` helpers live in :mod:`hpo.clearml_conf` and are re-exported here. This module
imports nothing of ``hpo.server``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

import httpx

from hpo import local_server
from hpo.clearml_conf import (
    SDK_OVERRIDES,
    active_config_file,
    config_file,
    config_files,
    config_values,
    default_output_uri,
    hocon_include,
    sdk_config_file,
    sets_default_output_uri,
)
from hpo.errors import ServerError
from hpo.paths import default_server_dir

log = logging.getLogger(__name__)

Source = Literal["option", "environment", "clearml.conf", "embedded"]

# The SDK's own legacy alias is honoured too, so a TRAINS-era setup keeps working.
_HOST_VARS = ("CLEARML_API_HOST", "TRAINS_API_HOST")


@dataclass(frozen=True)
class Connection:
    """The server chosen and why.

    Attributes:
        api_host: The API server URL.
        source: Which precedence level chose it.
        config_file: The ``clearml.conf`` that named it (source ``clearml.conf`` only).
    """

    api_host: str
    source: Source
    config_file: Path | None = None

    def describe(self) -> str:
        where = f" ({self.config_file})" if self.config_file else ""
        return f"{self.api_host} (from {self.source}{where})"


def task_web_url(web_host: str, task_id: str, project_id: str | None = None) -> str:
    """A task's page in ClearML's web UI (project ``*`` lets the UI find the project itself)."""
    return f"{web_host.rstrip('/')}/projects/{project_id or '*'}/experiments/{quote(task_id, safe='')}"


def embedded_url() -> str | None:
    """The URL of the embedded server of ``$HPO_HOME/server`` when it runs on this machine, else None.

    The URL it advertises (what ``hpo server env`` hands out), read from its ``server.json`` (the
    process it names must be alive); nothing is contacted.
    """
    server = local_server.recorded(default_server_dir())
    return server.url if server is not None else None


def _embedded_urls() -> tuple[str, ...]:
    """Every URL this machine's embedded default server is reached at: advertised and local."""
    server = local_server.recorded(default_server_dir())
    return (server.url, server.local_url) if server is not None else ()


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def same_address(a: str, b: str) -> bool:
    """Whether two API URLs name the same server (``localhost`` is ``127.0.0.1``; a trailing ``/`` is ignored)."""
    first, second = urlsplit(a.strip()), urlsplit(b.strip())
    host_a, host_b = (first.hostname or "").lower(), (second.hostname or "").lower()
    try:
        ports = (first.port, second.port)
    except ValueError:  # a port that is no number: not an address we can compare
        return False
    return (
        (host_a == host_b or {host_a, host_b} <= _LOOPBACK)
        and ports[0] == ports[1]
        and first.scheme.lower() == second.scheme.lower()
        and first.path.rstrip("/") == second.path.rstrip("/")
    )


def resolve(api_host: str | None = None) -> Connection:
    """Choose the server by the precedence above, without starting or contacting anything.

    A configured address that is this machine's embedded default server resolves to source
    ``embedded`` (see the module docstring).
    """
    conn = _configured(api_host)
    local = _embedded_urls() if conn.source != "embedded" else ()
    if any(same_address(conn.api_host, url) for url in local):
        log.info("%s is this machine's embedded server: using it as the embedded default", conn.describe())
        return Connection(conn.api_host, "embedded")
    return conn


def _configured(api_host: str | None) -> Connection:
    """The server levels 1-3 name, else the embedded default."""
    if api_host:
        return Connection(api_host.rstrip("/"), "option")
    for var in _HOST_VARS:
        if os.environ.get(var):
            return Connection(os.environ[var].rstrip("/"), "environment")
    config = config_file()
    if config is not None:
        found = config_values(config, "api.api_server", "api.host")
        host = found.get("api.api_server") or found.get("api.host")
        if host:
            return Connection(host.rstrip("/"), "clearml.conf", config)
    return Connection("", "embedded")


def server_answers(api_host: str, timeout: float = 5.0) -> bool:
    """Whether a ClearML API server answers at ``api_host`` (any reply in ClearML's envelope)."""
    try:
        response = httpx.post(f"{api_host}/debug.ping", json={}, timeout=timeout)
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return False
    return isinstance(body, dict) and "meta" in body


def check_files_server(timeout: float = 5.0) -> str:
    """The SDK's files server URL, after checking it answers (an upload would retry for minutes).

    Object stores (``s3://``, ``gs://``, ...) are not checked.

    Raises:
        ServerError: An HTTP files server does not answer.
    """
    from clearml.backend_api import Session

    url = str(Session.get_files_server_host()).rstrip("/")
    if not url.startswith(("http://", "https://")):
        return url
    try:
        httpx.get(f"{url}/", timeout=timeout)
    except httpx.HTTPError as err:
        raise ServerError(
            f"the files server {url} does not answer ({err}); fix CLEARML_FILES_HOST or api.files_server"
            " in clearml.conf"
        ) from err
    return url


def connect(api_host: str | None = None, *, timeout: float = 5.0) -> Connection:
    """Resolve the server, export it for the SDK and check that it answers.

    Starts the embedded server when nothing else is configured.

    Raises:
        ServerError: The chosen server does not answer, or the embedded one does not start.
    """
    conn = resolve(api_host)
    if conn.source == "embedded":
        server, new = local_server.start(default_server_dir())
        os.environ.update(server.env())
        state = "started" if new else "already running"
        log.info("using the embedded server at %s (%s)", server.url, state, extra={"step": True})
        return Connection(server.url, "embedded")
    if conn.source == "option":
        os.environ["CLEARML_API_HOST"] = conn.api_host
    if not server_answers(conn.api_host, timeout):
        raise ServerError(
            f"no ClearML server answers at {conn.describe()}; start it, fix the address, or unset"
            " CLEARML_API_HOST / api.api_server to use the embedded server (`hpo server start`)"
        )
    log.info("using the ClearML server at %s", conn.describe(), extra={"step": True})
    return conn


__all__ = [
    "Connection",
    "SDK_OVERRIDES",
    "active_config_file",
    "check_files_server",
    "config_file",
    "config_files",
    "config_values",
    "connect",
    "default_output_uri",
    "embedded_url",
    "hocon_include",
    "resolve",
    "same_address",
    "sdk_config_file",
    "server_answers",
    "sets_default_output_uri",
    "task_web_url",
]
