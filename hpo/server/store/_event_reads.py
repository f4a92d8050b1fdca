"""Reads of the events table the web UI's pages need: series extents, sampled points, pages, latest bodies.

The API's own reads live on :class:`~hpo.server.store._events.Events`; these serve views that
page or sample in SQL so a long series costs only the rows kept. Every function reads committed
rows only and changes nothing. The event types and the single-value iteration they filter on are
the caller's (``hpo.server.domain``): the store knows columns, not ClearML's meaning of them.

Thread-safety: as the store, single-threaded by design.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpo.server.store._documents import Store

Data = dict[str, Any]

_SERIES = "FROM events WHERE task = ? AND type = ? AND metric = ? AND variant = ? AND iter != ?"


def series_extents(store: Store, owner: str, kind: str, skip_iter: int) -> list[tuple[str, str, int, int, int]]:
    """``(metric, variant, count, min iter, max iter)`` of each series of one type, by metric then variant.

    Events at ``skip_iter`` (single values) are left out.
    """
    rows = store.db.query(
        "SELECT metric, variant, COUNT(*), MIN(iter), MAX(iter) FROM events"
        " WHERE task = ? AND type = ? AND iter != ? GROUP BY metric, variant ORDER BY metric, variant",
        (owner, kind, skip_iter),
    )
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


def series_points(
    store: Store, owner: str, kind: str, metric: str, variant: str, skip_iter: int, every: tuple[int, int] | None = None
) -> list[tuple[int, float, int | None]]:
    """``(iter, value, timestamp)`` of one series by iteration, leaving out ``skip_iter``.

    ``every=(start, step)`` keeps only iterations ``start + k * step``; that filter is answered
    from the events index alone, so only the kept rows are fetched.
    """
    params: list[Any] = [owner, kind, metric, variant, skip_iter]
    if every is None:
        rows = store.db.query(f"SELECT iter, value, timestamp {_SERIES} ORDER BY iter, seq", params)
    else:
        sql = f"SELECT iter, value, timestamp {_SERIES} AND (iter - ?) % ? = 0 ORDER BY iter, seq"
        rows = store.db.query(sql, [*params, *every])
    return [(int(r[0]), r[1], None if r[2] is None else int(r[2])) for r in rows]


def values_at(store: Store, owner: str, kind: str, iteration: int) -> list[tuple[str, float]]:
    """``(variant, value)`` of the events of one type at one iteration, in arrival order."""
    rows = store.db.query(
        "SELECT variant, value FROM events WHERE task = ? AND type = ? AND iter = ? ORDER BY seq",
        (owner, kind, iteration),
    )
    return [(str(r[0]), r[1]) for r in rows]


def page_by_time(store: Store, owner: str, kind: str, limit: int, offset: int) -> list[Data]:
    """Event bodies of one type, oldest first (by timestamp, then arrival), ``limit`` from ``offset``."""
    rows = store.db.query(
        "SELECT body FROM events WHERE task = ? AND type = ? ORDER BY timestamp, seq LIMIT ? OFFSET ?",
        (owner, kind, limit, offset),
    )
    return [json.loads(r[0]) for r in rows]


def series_bodies(store: Store, owner: str, kind: str) -> list[tuple[str, str, int, Data]]:
    """``(metric, variant, iter, body)`` of every event of one type, in arrival order."""
    rows = store.db.query(
        "SELECT metric, variant, iter, body FROM events WHERE task = ? AND type = ? ORDER BY seq", (owner, kind)
    )
    return [(str(r[0]), str(r[1]), int(r[2]), json.loads(r[3])) for r in rows]
