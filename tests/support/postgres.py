"""A throwaway PostgreSQL server for study-storage tests: ``initdb`` + ``pg_ctl`` into a temporary
directory, listening on a free port of 127.0.0.1 only, with password authentication.

PostgreSQL refuses to run as root, and tests here run as root: the server then runs as the
unprivileged ``postgres`` user (created by Debian's package) in a data directory it owns, outside
pytest's root-only tmp tree. One server per test session; :meth:`PostgresServer.create_database`
gives each test its own database.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import free_port

USER = "hpo"
PASSWORD = "s3cret-pw"
RUN_AS = "postgres"  # the Debian package's system user
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed (``apt-get install postgresql``)."""


def find_binary(name: str) -> str:
    """``name`` on PATH, else in Debian's versioned ``/usr/lib/postgresql/*/bin`` (newest first)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version, reverse=True)
    if versions:
        return versions[0]
    raise PostgresUnavailable(f"no {name!r} on PATH or in /usr/lib/postgresql/*/bin; apt-get install postgresql")


def _version(path: str) -> float:
    try:
        return float(Path(path).parents[1].name)
    except ValueError:
        return 0.0


@dataclass
class PostgresServer:
    """A running server: ``url(database)`` is an SQLAlchemy URL with the password in it."""

    root: Path
    port: int
    run_as: str | None
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{self.user}:{secret}@{self.host}:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text(statement))
        finally:
            engine.dispose()

    def _command(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory."""
        try:
            subprocess.run(
                self._command(find_binary("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"),
                capture_output=True,
                timeout=60,
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start() -> PostgresServer:
    """Start a fresh server; raises :class:`PostgresUnavailable` when PostgreSQL is not installed."""
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError as err:
            raise PostgresUnavailable(f"running as root and there is no {RUN_AS!r} user to run the server") from err
        run_as = RUN_AS
    root = Path(tempfile.mkdtemp(prefix="hpo-pg-"))  # /tmp, not pytest's root-only tmp tree
    (root / "sock").mkdir()
    (root / "pwfile").write_text(PASSWORD + "\n")
    if run_as:
        entry = pwd.getpwnam(run_as)
        for path in (root, root / "sock", root / "pwfile"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(root=root, port=free_port(), run_as=run_as)
    try:
        _run(
            server._command(
                initdb,
                "-D",
                str(server.data_dir),
                "-U",
                USER,
                f"--pwfile={root / 'pwfile'}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            )
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {server.port} -k {root / 'sock'} -c fsync=off -c max_connections=200"
        )
        _run(
            server._command(
                pg_ctl,
                "start",
                "-D",
                str(server.data_dir),
                "-l",
                str(root / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                str(START_TIMEOUT_S),
            )
        )
        _wait_ready(server)
    except BaseException:
        log = root / "server.log"
        detail = log.read_text()[-3000:] if log.exists() else ""
        server.stop()
        if detail:
            raise RuntimeError(f"PostgreSQL did not start:\n{detail}") from None
        raise
    return server


def _run(command: list[str]) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def _wait_ready(server: PostgresServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with socket.socket() as sock:
            sock.settimeout(1.0)
            if sock.connect_ex((server.host, server.port)) == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL is not listening on {server.host}:{server.port}")
        time.sleep(0.1)
