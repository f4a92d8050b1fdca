"""Where the suite keeps its files (``$HPO_HOME``, default ``~/.hpo``) and finds the ones it ships."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from hpo.errors import ConfigError

# OSErrors that mean "this place cannot take the suite's files" rather than a bug: answered in one line.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR)


def hpo_home() -> Path:
    return Path(os.environ.get("HPO_HOME") or Path.home() / ".hpo").expanduser()


def default_server_dir() -> Path:
    return hpo_home() / "server"


def searches_dir(home: Path | None = None) -> Path:
    """Where each search keeps its own files (``<study>/``: its local agents' home)."""
    return (home or hpo_home()) / "searches"


def storage_error(err: OSError) -> ConfigError | None:
    """One line, with the fix, for a file the suite could not write; None for any other OSError.

    A full disk (``ENOSPC``, ``EDQUOT``) or a place that cannot be written (``EACCES``, ``EPERM``,
    ``EROFS``, ``ENOTDIR``): ``$HPO_HOME`` not writable, a disk full when the server writes
    ``server.json`` or its database, a read-only mount.
    """
    where = err.filename or hpo_home()
    if err.errno in _NO_SPACE:
        return ConfigError(
            f"{where}: {err.strerror or 'no space left'}; free space on that disk, or point HPO_HOME"
            f" (now {hpo_home()}) at a folder on a disk with room"
        )
    if err.errno in _NOT_WRITABLE:
        return ConfigError(
            f"{where}: cannot be written ({err.strerror}); point HPO_HOME (now {hpo_home()}) at a folder you"
            " can write, e.g. export HPO_HOME=$HOME/hpo"
        )
    return None


def beside_package(name: str) -> Path:
    """The folder ``name`` next to the ``hpo`` package: ``base_tasks``, ``search_spaces``.

    In a checkout (and an editable install) that is the repository's top-level folder; a wheel
    installs the same folders beside ``hpo`` in site-packages (see pyproject.toml).
    """
    return Path(__file__).resolve().parent.parent / name
