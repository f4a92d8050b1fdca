"""Configuration of one embedded server instance, and the one place its runtime settings are built.

Addresses: a server binds ``host`` and is reached locally at :meth:`ServerConfig.base_url`
(loopback when bound to every address). It *advertises* :meth:`ServerConfig.advertised_url`: the
``public_url`` when one is given (a name, a proxy), else the bound address, else, bound to every
address (``0.0.0.0``, ``::``), this machine's primary address (:func:`primary_address`: the source
address of its default route, else its first non-loopback interface address). The advertised URL is
what ``server.json`` records for clients, so ``hpo server env``/``ui`` hand it out, and what stored
file URLs name when uploaded through it.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
ANY_ADDRESS = frozenset({"0.0.0.0", "", "::"})
_LOCAL_NAMES = frozenset({"localhost"})


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
        public_url: The URL other machines reach the server at, if any (the web UI serves its host,
            ``server.json`` advertises it).
        tls_cert: PEM certificate (chain) to serve HTTPS with; None serves plain HTTP.
        tls_key: PEM private key of ``tls_cert``.
    """

    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S
    watchdog_period_s: float = 5.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    public_url: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "server.db"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def base_url(self, port: int | None = None) -> str:
        """The URL a client on this machine uses (loopback when bound to every address)."""
        return client_url(self.host, port or self.port, self.scheme)

    def advertised_url(self, port: int | None = None) -> str:
        """The URL handed to clients: ``public_url``, else the bound address, else this machine's primary one."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = primary_address(ipv6=self.host == "::") if self.host in ANY_ADDRESS else self.host
        return client_url(host, port or self.port, self.scheme)

    def state(self, pid: int, port: int) -> dict[str, Any]:
        """What ``server.json`` records of the serving process (read by ``hpo.local_server``)."""
        return {
            "pid": pid,
            "host": self.host,
            "port": port,
            "url": self.advertised_url(port),
            "local_url": self.base_url(port),
        }

    def serves_host(self, name: str) -> bool:
        """Whether ``name`` (a host name or IP literal, no port) is an address this server is reached at."""
        name = name.strip("[]").lower().rstrip(".")
        own = {*_LOCAL_NAMES, self.host.lower()}
        if self.public_url:
            own.add((urlsplit(self.public_url).hostname or "").lower())
        any_address = self.host in ANY_ADDRESS
        if any_address:
            own.add(socket.gethostname().lower())
        if name in own:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return address.is_loopback or any_address

    def files_path(self, uri: str) -> str | None:
        """The path under this server's file server that ``uri`` names (under any of its addresses), else None."""
        if uri.startswith("/files/"):
            return uri[len("/files/") :]
        if self.public_url and uri.startswith(self.public_url.rstrip("/") + "/files/"):
            return uri[len(self.public_url.rstrip("/") + "/files/") :]
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError:
            return None
        marker = uri.find("/files/", len(parts.scheme) + 3)
        if parts.scheme not in ("http", "https") or not parts.path.startswith("/files/") or marker < 0:
            return None
        host = parts.hostname or ""
        loopback = host in _LOCAL_NAMES or _is_loopback(host)
        # a loopback URI names this machine whatever its port (the data dir may have moved ports)
        if not self.serves_host(host) or not (loopback or self.port == 0 or port == self.port):
            return None
        return uri[marker + len("/files/") :]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_url(host: str, port: int, scheme: str = "http") -> str:
    """The URL a local client uses for a server bound to ``host``:``port`` (any-address binds: loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


_SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def primary_address(ipv6: bool = False) -> str:
    """This machine's address for other machines: the source of its default route, else its first
    non-loopback IPv4 interface address, else loopback.

    No packet is sent: ``connect`` on a UDP socket only picks a route. ``ipv6`` asks the IPv6
    default route first.
    """
    probes = [(socket.AF_INET6, "2001:db8::1")] if ipv6 else []
    for family, target in [*probes, (socket.AF_INET, "192.0.2.1")]:  # documentation addresses
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect((target, 9))
                address = str(sock.getsockname()[0])
            except OSError:  # no route of that family
                continue
        if not _is_loopback(address):
            return address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
            except OSError:  # no IPv4 address on it
                continue
            address = socket.inet_ntoa(packed[20:24])
            if not _is_loopback(address):
                return address
    return "::1" if ipv6 else "127.0.0.1"


def check_port(port: int) -> int:
    """``port`` if it can be bound (0 = any free port).

    Raises:
        ConfigError: It is outside 0-65535.
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port: {port} is not a TCP port; use 1-65535 (or 0 for any free port)")
    return port


def check_public_url(url: str) -> str:
    """``url`` without a trailing ``/`` if it is an ``http(s)://host[:port]`` URL.

    Raises:
        ConfigError: Another scheme, no host, a path, a query or credentials in it.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError as err:
        raise ConfigError(f"--public-url {url!r}: {err}; use e.g. http://hpo.example.com:8008") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
        raise ConfigError(
            f"--public-url {url!r}: not an http(s)://host[:port] URL; use e.g. http://hpo.example.com:8008"
        )
    if parts.username or parts.password:
        raise ConfigError(f"--public-url {url!r}: holds credentials; give the address only")
    return f"{parts.scheme}://{parts.netloc}"


def check_tls(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """The certificate and key as absolute paths if both are given and load, None if neither is.

    Raises:
        ConfigError: Only one is given, or they do not load as a PEM certificate and its key.
    """
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("--tls-cert and --tls-key go together; pass both (PEM files) or neither")
    cert, key = cert.expanduser().resolve(), key.expanduser().resolve()
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(
            f"--tls-cert {cert} / --tls-key {key}: cannot load them ({err}); give a PEM certificate and its key"
        ) from err
    return cert, key


def runtime_config(
    data_dir: Path,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    task_timeout_s: float | None = None,
    *,
    public_url: str | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> ServerConfig:
    """The settings a served data dir runs with, for ``python -m hpo.server`` and ``--foreground`` alike.

    Args:
        data_dir: The data directory (made absolute).
        host: Address to bind.
        port: Port to bind; None means :data:`DEFAULT_PORT`.
        task_timeout_s: None means ``$HPO_SERVER_TASK_TIMEOUT``, else :data:`DEFAULT_TASK_TIMEOUT_S`.
        public_url: The URL other machines reach the server at (advertised instead of the bound address).
        tls_cert: PEM certificate to serve HTTPS with (with ``tls_key``).
        tls_key: Its PEM private key.

    Raises:
        ConfigError: The port, the task timeout, the public URL or the TLS files are invalid.
    """
    if task_timeout_s is None:
        env = os.environ.get(TASK_TIMEOUT_ENV)
        try:
            task_timeout_s = float(env) if env else DEFAULT_TASK_TIMEOUT_S
        except ValueError:
            raise ConfigError(f"{TASK_TIMEOUT_ENV}={env!r} is not a number of seconds; use e.g. 90") from None
    if not task_timeout_s > 0:
        raise ConfigError(f"--task-timeout must be positive, got {task_timeout_s}")
    tls = check_tls(tls_cert, tls_key)
    public = check_public_url(public_url) if public_url else None
    if tls and public and public.startswith("http://"):
        raise ConfigError(f"--public-url {public}: the server serves TLS; use https://")
    return ServerConfig(
        data_dir=data_dir.expanduser().resolve(),
        host=host,
        port=check_port(DEFAULT_PORT if port is None else port),
        task_timeout_s=task_timeout_s,
        # look often enough that a short timeout (tests) is noticed promptly
        watchdog_period_s=min(5.0, task_timeout_s / 4),
        public_url=public,
        tls_cert=tls[0] if tls else None,
        tls_key=tls[1] if tls else None,
    )
