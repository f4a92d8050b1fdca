"""Where the suite keeps its files (``$HPO_HOME``, default ``~/.hpo``) and finds the ones it ships."""

from __future__ import annotations

import os
from pathlib import Path


def hpo_home() -> Path:
    return Path(os.environ.get("HPO_HOME") or Path.home() / ".hpo").expanduser()


def default_server_dir() -> Path:
    return hpo_home() / "server"


def searches_dir(home: Path | None = None) -> Path:
    """Where each search keeps its own files (``<study>/``: its local agents' home)."""
    return (home or hpo_home()) / "searches"


def beside_package(name: str) -> Path:
    """The folder ``name`` next to the ``hpo`` package: ``base_tasks``, ``search_spaces``.

    In a checkout (and an editable install) that is the repository's top-level folder; a wheel
    installs the same folders beside ``hpo`` in site-packages (see pyproject.toml).
    """
    return Path(__file__).resolve().parent.parent / name
