"""The data directory: private modes, and the lock that makes its server the only writer.

A data dir holds every task, the credentials and the token secret, so the directory and
``files/`` are 0700 and everything in them 0600 (the server process runs with umask 077 and
pre-creates its database 0600; SQLite gives its WAL files the database's mode).

One server per data dir: :class:`DataDirLock` is an exclusive ``flock`` on ``server.lock``, held
for the server's life. The OS drops it when the process dies, ``kill -9`` included, so a stale
lock can never block a restart. The lock file names the holder's pid and port, so a second
server is refused with a message naming the first.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from hpo.errors import ServerError

LOCK_FILE = "server.lock"
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, and make it 0600 either way."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)
    return path


def read_lock(data_dir: Path) -> dict[str, Any]:
    """What the lock file says about its holder (``pid``, ``port``; empty when unknown)."""
    try:
        found = json.loads((data_dir / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


class DataDirLock:
    """An exclusive lock on a data directory, held from :meth:`acquire` until the process ends.

    Args:
        data_dir: The directory to lock (created 0700 when missing).
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or fail at once.

        Raises:
            ServerError: Another process holds it; the message names its pid and port.
        """
        private_dir(self.data_dir)
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = read_lock(self.data_dir)
            where = f" on port {holder['port']}" if holder.get("port") else ""
            raise ServerError(
                f"data dir {self.data_dir} is already served by pid {holder.get('pid', '?')}{where}; one server per"
                f" data dir: use that one, or stop it first (hpo server stop --data-dir {self.data_dir})"
            ) from None
        self._fd = fd
        self.record(port=None)

    def record(self, port: int | None) -> None:
        """Write this process's pid (and, once bound, its port) into the held lock file."""
        if self._fd is None:
            raise RuntimeError("record() before acquire()")
        text = json.dumps({"pid": os.getpid(), "port": port}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None


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


def remove_state(data_dir: Path, pid: int) -> None:
    """Delete ``server.json`` if it still describes ``pid`` (a newer server's stays)."""
    path = state_path(data_dir)
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass
