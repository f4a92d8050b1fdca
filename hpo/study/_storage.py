"""Opening the study storage: SQLite under ``$HPO_HOME`` by default, or any RDB URL Optuna takes."""

from __future__ import annotations

import os

import optuna

from hpo.paths import hpo_home


def default_storage() -> str:
    """``sqlite:///$HPO_HOME/studies.db``."""
    home = hpo_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'studies.db'}"


def open_storage(url: str | None = None) -> optuna.storages.BaseStorage:
    """The Optuna storage at ``url`` (default: ``$HPO_STORAGE``, else :func:`default_storage`).

    Raises:
        ConfigError: The URL is not a storage Optuna can open (the message masks its password).
    """
    from hpo.study._rdb import open_rdb  # here: `hpo --help` and a bad space must not pay for SQLAlchemy

    return open_rdb(url or os.environ.get("HPO_STORAGE") or default_storage())


def as_storage(storage: str | optuna.storages.BaseStorage | None) -> optuna.storages.BaseStorage:
    """``storage`` itself when it is opened already, else :func:`open_storage` of that URL."""
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    return open_storage(storage)


__all__ = ["as_storage", "default_storage", "open_storage"]
