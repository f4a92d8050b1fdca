"""Where the suite keeps its files: ``$HPO_HOME`` (default ``~/.hpo``)."""

from __future__ import annotations

import os
from pathlib import Path


def hpo_home() -> Path:
    return Path(os.environ.get("HPO_HOME") or Path.home() / ".hpo").expanduser()


def default_server_dir() -> Path:
    return hpo_home() / "server"
