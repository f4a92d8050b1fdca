"""Which ClearML server the suite talks to: decided here, once.

Precedence, highest first:

1. a command-line option (``--api-host``);
2. the environment: ``CLEARML_API_HOST`` (with ``CLEARML_API_ACCESS_KEY``/``CLEARML_API_SECRET_KEY``
   and ``CLEARML_FILES_HOST``, read by the SDK itself);
3. a ``clearml.conf`` with ``api.api_server`` set: ``$CLEARML_CONFIG_FILE``, else ``~/clearml.conf``
   (the files the SDK reads);
4. the embedded server of ``$HPO_HOME/server`` (``HPO_HOME`` defaults to ``~/.hpo``), started on demand.

``connect()`` resolves the server, exports what the SDK needs into ``os.environ`` (so call it before
the first SDK call) and checks that the server answers: with an unreachable server the SDK would
otherwise retry silently for hours.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import httpx

from hpo.errors import ServerError
from hpo.paths import default_server_dir

log = logging.getLogger(__name__)

Source = Literal["option", "environment", "clearml.conf", "embedded"]

# The SDK's own legacy alias is honoured too, so a TRAINS-era setup keeps working.
_HOST_VARS = ("CLEARML_API_HOST", "TRAINS_API_HOST")
_CONFIG_VARS = ("CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE")


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


def config_file(env: Mapping[str, str] | None = None) -> Path | None:
    """The ``clearml.conf`` a ClearML program run with ``env`` (default: this process's) reads, if any."""
    env = os.environ if env is None else env
    for var in _CONFIG_VARS:
        value = env.get(var)
        if value:
            path = Path(os.path.expandvars(value)).expanduser()
            return path if path.is_file() else None
    home = Path(env.get("HOME") or Path.home()).expanduser()
    for name in ("trains.conf", "clearml.conf"):
        path = home / name
        if path.is_file():
            return path
    return None


def active_config_file() -> Path | None:
    """The ``clearml.conf`` this process's SDK reads, if any (same rule as the SDK)."""
    return config_file()


def config_values(path: Path, *keys: str) -> dict[str, str]:
    """The non-empty values of dotted ``keys`` in a ``clearml.conf`` (HOCON, read with the SDK's parser).

    Raises:
        ServerError: The file cannot be parsed.
    """
    from clearml.utilities.pyhocon import ConfigFactory

    try:
        with warnings.catch_warnings():
            # The vendored parser calls pyparsing with deprecated argument names.
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ConfigFactory.parse_file(str(path))  # type: ignore[no-untyped-call]
    except Exception as err:  # the parser raises several unrelated exception types
        raise ServerError(f"cannot parse {path}: {err}; fix the file or point CLEARML_CONFIG_FILE elsewhere") from err
    values = {key: tree.get(key, None) for key in keys}
    return {key: str(value) for key, value in values.items() if value}


def task_web_url(web_host: str, task_id: str, project_id: str | None = None) -> str:
    """A task's page in ClearML's web UI (project ``*`` lets the UI find the project itself)."""
    return f"{web_host.rstrip('/')}/projects/{project_id or '*'}/experiments/{quote(task_id, safe='')}"


def resolve(api_host: str | None = None) -> Connection:
    """Choose the server by the precedence above, without starting or checking anything."""
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
        from hpo.server import _process

        server, new = _process.start(default_server_dir())
        os.environ.update(server.env())
        log.info("using the embedded server at %s (%s)", server.url, "started" if new else "already running")
        return Connection(server.url, "embedded")
    if conn.source == "option":
        os.environ["CLEARML_API_HOST"] = conn.api_host
    if not server_answers(conn.api_host, timeout):
        raise ServerError(
            f"no ClearML server answers at {conn.describe()}; start it, fix the address, or unset"
            " CLEARML_API_HOST / api.api_server to use the embedded server (`hpo server start`)"
        )
    return conn


__all__ = [
    "Connection",
    "active_config_file",
    "check_files_server",
    "config_file",
    "config_values",
    "connect",
    "resolve",
    "server_answers",
    "task_web_url",
]
