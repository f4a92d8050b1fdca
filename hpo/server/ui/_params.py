"""Checking what a URL or a form asks for.

A hand-edited query string never fails a page: a bad value falls back to the default and leaves a
notice ("file: field: problem; fix" style, as ``hpo/search/_space.py`` words errors). A form
value of the wrong type is refused with the field named, and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hpo.server.ui._tasks import PAGE_SIZES, SORTABLE, STATUSES, TableQuery


def positive_int(params: Mapping[str, str], name: str, default: int, notices: list[str], high: int = 10**9) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= high:
        notices.append(f"{name}={raw!r} is not a whole number from 1 to {high}; showing {name}={default}")
        return default
    return value


def _column_ok(column: str) -> bool:
    return column[:2] in ("m:", "p:") and "/" in column[2:]


def table_query(project: str, params: Mapping[str, str], statuses: list[str]) -> tuple[TableQuery, list[str]]:
    """The experiments table request a query string asks for, and the notices of what was ignored."""
    notices: list[str] = []
    query = TableQuery(project=project)
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        notices.append(f"status {bad[0]!r} is unknown; use one of {', '.join(STATUSES)}")
    query.statuses = [s for s in statuses if s in STATUSES]
    query.tag = params.get("tag", "").strip()
    query.name = params.get("name", "").strip()
    query.archived = params.get("archived", "") in ("1", "true", "on")
    raw_cols = [c for c in params.get("cols", "").split(",") if c]
    query.columns = [c for c in raw_cols if _column_ok(c)]
    if len(query.columns) != len(raw_cols):
        notices.append("cols: each column is m:<title>/<series> or p:<section>/<name>; ignored the others")
    sort = params.get("sort", "created")
    if sort in SORTABLE or (_column_ok(sort) and sort in query.columns):
        query.sort = sort
    else:
        notices.append(f"sort={sort!r} is not a column of this table; sorted by created")
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        notices.append(f"order={order!r} is neither asc nor desc; showing desc")
        order = "desc"
    query.descending = order == "desc"
    size = positive_int(params, "size", 50, notices, high=max(PAGE_SIZES))
    query.size = size
    query.page = positive_int(params, "page", 1, notices)
    return query, notices


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


def check_value(name: str, kind: str, raw: str) -> FieldError | None:
    """Whether ``raw`` is a valid value of a parameter the SDK stored with type ``kind``."""
    kind = (kind or "").lower()
    try:
        if kind in ("int", "integer"):
            int(raw)
        elif kind == "float":
            float(raw)
        elif kind == "bool" and raw.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(raw)
    except ValueError:
        return FieldError(name, f"{name}: {raw!r} is not a valid {kind}; enter a {kind} value")
    return None
