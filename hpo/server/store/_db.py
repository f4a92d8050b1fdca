"""SQLite persistence for the embedded server.

One :class:`Database` per data directory, owned by one server process. Documents (tasks,
projects, models, queues, ...) are JSON rows in ``docs``; events are rows in ``events``. The
database runs in WAL mode with ``synchronous=NORMAL``: a commit survives ``kill -9`` of the
server (the OS holds the written pages), and readers never block the writer.

Thread-safety: all access goes through one connection guarded by a lock; the server calls it
from its event loop thread.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hpo.paths import storage_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT NOT NULL,
    type TEXT NOT NULL,
    metric TEXT NOT NULL DEFAULT '',
    variant TEXT NOT NULL DEFAULT '',
    iter INTEGER NOT NULL DEFAULT 0,
    timestamp INTEGER NOT NULL DEFAULT 0,
    value REAL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_task ON events (task, type, metric, variant, iter);
"""


# SQLite result codes of a file it cannot write, as the OSError they stand for (hpo.paths.storage_error).
_OS_ERRNO = {13: errno.ENOSPC, 8: errno.EROFS, 14: errno.EACCES}  # SQLITE_FULL, SQLITE_READONLY, SQLITE_CANTOPEN


class Database:
    """The SQLite file behind one data directory.

    Args:
        path: The database file; created with its schema when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(SCHEMA)
        except sqlite3.OperationalError as err:  # a full disk or a folder it cannot write: one line, with the fix
            code = _OS_ERRNO.get(err.sqlite_errorcode & 0xFF)
            reason = storage_error(OSError(code, str(err), str(path))) if code else None
            if reason is None:
                raise
            raise reason from err

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements in one atomic write transaction."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cur = self._conn.execute(sql, tuple(params))
            return list(cur.fetchall())

    def load_collection(self, collection: str) -> dict[str, dict[str, Any]]:
        rows = self.query("SELECT id, body FROM docs WHERE collection = ?", (collection,))
        return {row[0]: json.loads(row[1]) for row in rows}
