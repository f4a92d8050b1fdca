"""Opening the study storage: SQLite under ``$HPO_HOME`` by default, or any RDB URL Optuna takes."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import optuna

from hpo.errors import ConfigError
from hpo.paths import hpo_home

log = logging.getLogger(__name__)

STORAGE_ATTEMPTS = 5


def default_storage() -> str:
    """``sqlite:///$HPO_HOME/studies.db``."""
    home = hpo_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'studies.db'}"


def open_storage(url: str | None = None) -> optuna.storages.BaseStorage:
    """The Optuna storage at ``url`` (default: ``$HPO_STORAGE``, else :func:`default_storage`).

    Raises:
        ConfigError: The URL is not a storage Optuna can open.
    """
    import sqlalchemy.exc  # here: `hpo --help` and a bad space must not pay for SQLAlchemy

    url = url or os.environ.get("HPO_STORAGE") or default_storage()
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several processes share the file (the controller, `hpo status`, a dashboard): wait for locks.
        kwargs = {"connect_args": {"timeout": 30}}
    for attempt in range(1, STORAGE_ATTEMPTS + 1):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError) as err:
            # Two processes creating a fresh storage at once (a search and `hpo status` or a dashboard)
            # race on Optuna's schema set-up; the loser sees a duplicate version row or a locked database.
            # Elsewhere an OperationalError is a bad address or credentials: no point waiting.
            racing = isinstance(err, sqlalchemy.exc.IntegrityError) or url.startswith("sqlite")
            if attempt == STORAGE_ATTEMPTS or not racing:
                raise _bad_storage(url, err) from err
            log.debug("opening %s failed (%s); retrying", url, err)
            time.sleep(0.2 * attempt)
        except Exception as err:  # SQLAlchemy and drivers raise many unrelated types for a bad URL
            raise _bad_storage(url, err) from err
    raise AssertionError("unreachable")


def _bad_storage(url: str, err: Exception) -> ConfigError:
    return ConfigError(
        f"cannot open the study storage {url!r} ({err}); pass an SQLAlchemy URL such as"
        " sqlite:////path/studies.db or postgresql://user:pass@host/db with --storage"
    )


def as_storage(storage: str | optuna.storages.BaseStorage | None) -> optuna.storages.BaseStorage:
    """``storage`` itself when it is opened already, else :func:`open_storage` of that URL."""
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    return open_storage(storage)


__all__ = ["STORAGE_ATTEMPTS", "as_storage", "default_storage", "open_storage"]
