"""The events table: scalars, console lines, plots and debug images reported by tasks and models.

Each event keeps its whole JSON body plus the columns queries filter and sort on. Writes are
staged on the :class:`~hpo.server.store.Store` and reach SQLite in its next commit, together with
the documents the same request changed (a scalar batch and the task's ``last_metrics`` commit as
one). Reads see committed rows only.

Idempotence, as ClearML Server keys its events: every event but a console line has an identity,
(type, task, iteration, metric, variant, image key), stored as a digest in the unique ``ident``
column; an event whose identity is already stored overwrites that row (it keeps its place,
``seq``), so a batch the client sends twice is stored once. Console lines (``log``) have no
identity (``ident`` is NULL) and are appended as sent, as ClearML appends them. Data dirs written
before the column existed are migrated when the store opens: the column and its unique index are
added and earlier duplicates removed, keeping the last one stored.

Thread-safety: as the store, single-threaded by design.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

if TYPE_CHECKING:
    from hpo.server.store._db import Database
    from hpo.server.store._documents import Store

Data = dict[str, Any]

log = logging.getLogger(__name__)

# The one event type ClearML appends without a key (every re-send is stored again).
UNKEYED_TYPE = "log"
_IMAGE = "training_debug_image"  # the one type whose identity includes its body's ``key``
_INDEX = "events_key"  # the unique index on ``ident``

_INSERT = (
    "INSERT INTO events (task, type, metric, variant, iter, timestamp, value, body, ident)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (ident) DO UPDATE SET timestamp = excluded.timestamp, value = excluded.value,"
    " body = excluded.body"
)


def event_ident(kind: str, task: str, iteration: int, metric: str, variant: str, key: str | None) -> bytes | None:
    """The identity of an event (None for a console line): same identity, same stored event.

    A digest of the series (type, task, metric, variant, key) followed by the iteration, so that
    one series' events sit side by side in the unique index, in iteration order: appending to a
    series touches one index page, where a digest of everything would land each event at random.
    """
    if kind == UNKEYED_TYPE:
        return None
    return _series_digest(kind, task, metric, variant, key) + _ITERATION(iteration + _OFFSET)


_ITERATION = struct.Struct(">Q").pack  # an iteration as 8 big-endian bytes, offset to sort signed values
_OFFSET = 2**63


@lru_cache(maxsize=4096)
def _series_digest(kind: str, task: str, metric: str, variant: str, key: str | None) -> bytes:
    fields = json.dumps([kind, task, metric, variant, key], separators=(",", ":"))
    return hashlib.md5(fields.encode("utf-8"), usedforsecurity=False).digest()[:12]


class Event(NamedTuple):
    """One event to store, with the columns it is found by (a tuple: a batch makes thousands).

    ``key`` is a debug image's storage key (``MetricsImageEvent.key``), part of its identity as
    in ClearML: two images of one iteration and series with different keys are both kept.
    """

    task: str
    type: str
    metric: str
    variant: str
    iter: int
    timestamp: int
    value: float | None
    body: Data
    key: str | None = None

    def row(self) -> tuple[Any, ...]:
        task, kind, metric, variant, iteration, timestamp, value, body, key = self
        text = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS).decode()  # json.dumps' JSON, 10x faster
        ident = event_ident(kind, task, iteration, metric, variant, key)
        return (task, kind, metric, variant, iteration, timestamp, value, text, ident)


def migrate(db: Database) -> None:
    """Bring an events table written by an earlier version up to the keyed schema (idempotent)."""
    columns = {str(row[1]) for row in db.query("PRAGMA table_info(events)")}
    indexes = {str(row[1]) for row in db.query("PRAGMA index_list(events)")}
    if "ident" in columns and _INDEX in indexes:
        return
    with db.transaction() as conn:
        if "ident" not in columns:
            conn.execute("ALTER TABLE events ADD COLUMN ident BLOB")
        conn.execute("DROP INDEX IF EXISTS events_ident")  # an earlier form of the identity
        rows = conn.execute(
            "SELECT seq, type, task, iter, metric, variant, CASE WHEN type = ? THEN body END FROM events"
            " WHERE type != ?",
            (_IMAGE, UNKEYED_TYPE),
        ).fetchall()
        last: dict[bytes, int] = {}
        for seq, kind, task, iteration, metric, variant, body in rows:
            key = _image_key(body) if body is not None else None
            ident = event_ident(kind, task, iteration, metric, variant, key)
            assert ident is not None
            last[ident] = max(seq, last.get(ident, seq))
        keep = set(last.values())
        duplicates = [(row[0],) for row in rows if row[0] not in keep]
        conn.executemany("DELETE FROM events WHERE seq = ?", duplicates)
        conn.executemany("UPDATE events SET ident = ? WHERE seq = ?", [(i, s) for i, s in last.items()])
        conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {_INDEX} ON events (ident)")
    if duplicates:
        log.warning("events: removed %d duplicate events stored before events were keyed", len(duplicates))


def _image_key(body: str) -> str | None:
    try:
        key = json.loads(body).get("key")
    except (ValueError, AttributeError):
        return None
    return key if isinstance(key, str) else None


class Events:
    """The events of one data directory (migrated to the keyed schema when opened)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        migrate(store.db)

    def add(self, events: list[Event]) -> None:
        """Stage ``events`` for the next commit; a stored event with the same identity is overwritten."""
        self._store.stage_sql(_INSERT, [event.row() for event in events])

    def delete_for(self, owner: str) -> int:
        """Stage deletion of every event of a task (or model); returns how many there are now."""
        count = self._store.db.query("SELECT COUNT(*) FROM events WHERE task = ?", (owner,))[0][0]
        self._store.stage_sql("DELETE FROM events WHERE task = ?", [(owner,)])
        return int(count)

    def count(self, owner: str, kind: str) -> int:
        rows = self._store.db.query("SELECT COUNT(*) FROM events WHERE task = ? AND type = ?", (owner, kind))
        return int(rows[0][0])

    def bodies(self, owner: str, kind: str, metric: str | None = None, desc: bool = False) -> list[Data]:
        """The stored events of one type, in arrival order (or reversed), optionally of one metric."""
        sql = "SELECT body FROM events WHERE task = ? AND type = ?"
        params: list[Any] = [owner, kind]
        if metric is not None:
            sql += " AND metric = ?"
            params.append(metric)
        sql += " ORDER BY seq DESC" if desc else " ORDER BY seq"
        return [json.loads(row[0]) for row in self._store.db.query(sql, params)]

    def by_time(self, owner: str, kind: str, limit: int, earlier: bool, after: int | None = None) -> list[Data]:
        """Up to ``limit`` events from the latest back (``earlier``) or from the first on, by timestamp.

        ``after`` starts past that timestamp (before it when ``earlier``). As ClearML does, every
        event at the timestamp of the last one returned is returned too, even beyond ``limit``, so
        that paging by timestamp never skips an event.
        """
        sign, order = ("<", "DESC") if earlier else (">", "ASC")
        sql = "SELECT seq, timestamp, body FROM events WHERE task = ? AND type = ?"
        params: list[Any] = [owner, kind]
        if after is not None:
            sql += f" AND timestamp {sign} ?"
            params.append(after)
        rows = self._store.db.query(f"{sql} ORDER BY timestamp {order}, seq {order} LIMIT ?", [*params, limit])
        if len(rows) == limit and rows:
            seen = {row[0] for row in rows}
            tied = self._store.db.query(
                f"SELECT seq, timestamp, body FROM events WHERE task = ? AND type = ? AND timestamp = ?"
                f" ORDER BY seq {order}",
                (owner, kind, rows[-1][1]),
            )
            rows += [row for row in tied if row[0] not in seen]
        return [json.loads(row[2]) for row in rows]

    def metric_names(self, owner: str, kind: str) -> list[str]:
        rows = self._store.db.query("SELECT DISTINCT metric FROM events WHERE task = ? AND type = ?", (owner, kind))
        return [str(row[0]) for row in rows]

    def points(self, owner: str, kind: str) -> list[tuple[str, str, int, int, float]]:
        """``(metric, variant, iter, timestamp, value)`` of every event of ``kind``, by iteration then arrival."""
        rows = self._store.db.query(
            "SELECT metric, variant, iter, timestamp, value FROM events WHERE task = ? AND type = ? ORDER BY iter, seq",
            (owner, kind),
        )
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), r[4]) for r in rows]

    def at_iteration(self, owner: str, kind: str, iteration: int, metric: str) -> list[tuple[str, str, float, int]]:
        """``(metric, variant, value, timestamp)`` of the events of one metric at one iteration."""
        rows = self._store.db.query(
            "SELECT metric, variant, value, timestamp FROM events WHERE task = ? AND type = ? AND iter = ?"
            " AND metric = ? ORDER BY seq",
            (owner, kind, iteration, metric),
        )
        return [(str(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]
