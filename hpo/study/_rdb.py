"""Opening an RDB study storage (SQLite, PostgreSQL...) with errors a user can act on.

Every error names the URL with its password masked, what went wrong and the fix: a driver that
is not installed names the extra that brings it; an unreachable or refusing server says what to
check. Several processes may create a fresh storage at once (two controllers, ``hpo status``, a
dashboard); the losers of Optuna's schema set-up retry instead of failing.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import optuna
import sqlalchemy.engine
import sqlalchemy.exc

from hpo._extras import install_command
from hpo.errors import ConfigError

log = logging.getLogger(__name__)

ATTEMPTS = 5
CONNECT_TIMEOUT_S = 10  # an unreachable PostgreSQL host fails in seconds, not after TCP's minutes
USAGE = "pass an SQLAlchemy URL such as sqlite:////path/studies.db or postgresql://user:password@host:5432/db"
# The pip requirement that brings each dialect's default driver.
DRIVER_FIX = {
    "postgresql": install_command("postgres"),
    "mysql": "pip install pymysql and use a mysql+pymysql:// URL",
}


def mask(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    try:
        return str(sqlalchemy.engine.make_url(url).render_as_string(hide_password=True))
    except Exception:  # not even a URL: mask what looks like user:password@
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def open_rdb(url: str) -> optuna.storages.RDBStorage:
    """The Optuna storage at ``url``, its schema created if new.

    Raises:
        ConfigError: A malformed URL, a missing driver, or a database that cannot be reached or used.
    """
    parsed = _parse(url)
    _check_driver(parsed, url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        # Several processes share the file (the controller, `hpo status`, a dashboard): wait for locks.
        kwargs = {"connect_args": {"timeout": 30}}
    elif parsed.get_backend_name() == "postgresql":
        kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as err:  # SQLAlchemy and drivers raise many unrelated types for a bad URL
            if attempt == ATTEMPTS or not _racing(err, parsed.get_backend_name()):
                raise _unusable(url, err) from err
            log.debug("opening %s failed (%s); retrying", mask(url), err)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def _parse(url: str) -> sqlalchemy.engine.URL:
    try:
        return sqlalchemy.engine.make_url(url)
    except Exception as err:
        raise ConfigError(f"study storage {mask(url)!r}: not a database URL ({err}); {USAGE} with --storage") from err


def _check_driver(parsed: sqlalchemy.engine.URL, url: str) -> None:
    """Fail on a dialect or driver that is not installed, before anything connects."""
    try:
        dialect: Any = parsed.get_dialect()
    except Exception as err:
        raise ConfigError(f"study storage {mask(url)!r}: unknown database {parsed.drivername!r}; {USAGE}") from err
    try:
        dialect.import_dbapi()
    except ImportError as err:
        backend, module = parsed.get_backend_name(), err.name or "the driver"
        fix = DRIVER_FIX.get(backend, f"pip install {module}")
        if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
            fix = f"pip install {module}, or use a postgresql:// URL after {DRIVER_FIX['postgresql']}"
        raise ConfigError(f"study storage {mask(url)!r}: its driver {module!r} is not installed; {fix}") from err


def _racing(err: Exception, backend: str) -> bool:
    """Whether ``err`` is a loss in two processes' race to create the schema (worth a retry)."""
    if isinstance(err, sqlalchemy.exc.IntegrityError):
        return True  # a duplicate version row (or PostgreSQL's catalog row of a type created twice)
    if isinstance(err, sqlalchemy.exc.ProgrammingError):
        return "already exists" in str(err)  # PostgreSQL: CREATE TABLE of a table the winner just made
    # SQLite: a locked database. Elsewhere an OperationalError is a bad address or credentials.
    return isinstance(err, sqlalchemy.exc.OperationalError) and backend == "sqlite"


def _unusable(url: str, err: Exception) -> ConfigError:
    reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":  # a file: no server, host or password to check
        folder = os.path.dirname(os.path.abspath(parsed.database or "")) or "."
        return ConfigError(
            f"cannot open the study storage {mask(url)!r}: {reason}; check that the folder {folder} exists and is"
            f" writable (an absolute path takes four slashes: sqlite:////abs/path), or {USAGE} with --storage"
        )
    secret = parsed.password
    if secret:
        reason = reason.replace(str(secret), "***")
    return ConfigError(
        f"cannot open the study storage {mask(url)!r}: {reason}; check that the database server runs and that"
        f" the URL's host, port, user, password and database are right, or {USAGE} with --storage"
    )


__all__ = ["mask", "open_rdb"]
