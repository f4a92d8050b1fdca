"""Small process and file helpers shared by the server's and the agents' process management."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

from hpo.paths import storage_error


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie counts as dead (and is reaped when it is this process's child).

    Another process's zombie stays one while its parent does not reap it (a container whose pid 1
    reaps nothing, say): psutil tells it apart from a live process.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:  # not our child: it exists, unless as a zombie
        try:
            return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False
        except psutil.Error:
            return True


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, so readers never see a partial file.

    Raises:
        ConfigError: The disk is full or the folder cannot be written (one line naming the fix).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # a half-written file on a full disk
        reason = storage_error(err)
        if reason is None:
            raise
        raise reason from err
