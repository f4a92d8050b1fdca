"""The events table: scalars, console lines, plots and debug images reported by tasks and models.

Events are append-only rows; each keeps its whole JSON body plus the columns queries filter and
sort on. Writes are staged on the :class:`~hpo.server.store.Store` and reach SQLite in its next
commit, together with the documents the same request changed (a scalar batch and the task's
``last_metrics`` commit as one). Reads see committed rows only.

Thread-safety: as the store, single-threaded by design.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpo.server.store._documents import Store

Data = dict[str, Any]

_INSERT = (
    "INSERT INTO events (task, type, metric, variant, iter, timestamp, value, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class Event:
    """One event to store, with the columns it is found by."""

    task: str
    type: str
    metric: str
    variant: str
    iter: int
    timestamp: int
    value: float | None
    body: Data

    def row(self) -> tuple[Any, ...]:
        body = json.dumps(self.body, separators=(",", ":"))
        return (self.task, self.type, self.metric, self.variant, self.iter, self.timestamp, self.value, body)


class Events:
    """The events of one data directory."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, events: list[Event]) -> None:
        """Stage ``events`` for the next commit."""
        self._store.stage_sql(_INSERT, [event.row() for event in events])

    def delete_for(self, owner: str) -> int:
        """Stage deletion of every event of a task (or model); returns how many there are now."""
        count = self._store.db.query("SELECT COUNT(*) FROM events WHERE task = ?", (owner,))[0][0]
        self._store.stage_sql("DELETE FROM events WHERE task = ?", [(owner,)])
        return int(count)

    def bodies(self, owner: str, kind: str, metric: str | None = None, desc: bool = False) -> list[Data]:
        """The stored events of one type, in arrival order (or reversed), optionally of one metric."""
        sql = "SELECT body FROM events WHERE task = ? AND type = ?"
        params: list[Any] = [owner, kind]
        if metric is not None:
            sql += " AND metric = ?"
            params.append(metric)
        sql += " ORDER BY seq DESC" if desc else " ORDER BY seq"
        return [json.loads(row[0]) for row in self._store.db.query(sql, params)]

    def metric_names(self, owner: str, kind: str) -> list[str]:
        rows = self._store.db.query("SELECT DISTINCT metric FROM events WHERE task = ? AND type = ?", (owner, kind))
        return [str(row[0]) for row in rows]

    def points(self, owner: str, kind: str) -> list[tuple[str, str, int, float]]:
        """``(metric, variant, iter, value)`` of every event of ``kind``, by iteration then arrival."""
        rows = self._store.db.query(
            "SELECT metric, variant, iter, value FROM events WHERE task = ? AND type = ? ORDER BY iter, seq",
            (owner, kind),
        )
        return [(str(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]

    def at_iteration(self, owner: str, kind: str, iteration: int, metric: str) -> list[tuple[str, str, float, int]]:
        """``(metric, variant, value, timestamp)`` of the events of one metric at one iteration."""
        rows = self._store.db.query(
            "SELECT metric, variant, value, timestamp FROM events WHERE task = ? AND type = ? AND iter = ?"
            " AND metric = ? ORDER BY seq",
            (owner, kind, iteration, metric),
        )
        return [(str(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]
