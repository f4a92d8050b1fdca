"""Checking what a URL or a form asks for.

A hand-edited query string never fails a page: a bad value falls back to the default and leaves a
notice ("file: field: problem; fix" style, as ``hpo/search/_space.py`` words errors). A form
value of the wrong type is refused with the field named, and nothing is changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from hpo.server.ui._tasks import METRIC_FIELDS, PAGE_SIZES, SORTABLE, STATUSES, TableQuery, as_number


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
    kind, sep, key = column.partition(":")
    return bool(sep) and kind in COLUMN_KINDS and "/" in key


COLUMN_KINDS = (*METRIC_FIELDS, "p")
FILTERS = ("ge.", "le.", "eq.")  # query keys: ge.<column>=low, le.<column>=high, eq.<column>=value


def _columns(params: QueryParams, notices: list[str]) -> list[str]:
    raw = [c for value in params.getlist("cols") for c in value.split(",") if c]
    columns = list(dict.fromkeys(c for c in raw if _column_ok(c)))
    if len(set(raw)) != len(columns):
        notices.append("cols: each column is m:, mn: or mx:<title>/<series> (last, min, max of a metric) "
                       "or p:<section>/<name>; ignored the others")  # fmt: skip
    return columns


def _filters(query: TableQuery, params: QueryParams, notices: list[str]) -> None:
    """Column filters: numeric ranges (``ge.``/``le.``) and values (``eq.``) on metric and parameter columns."""
    for key, raw in params.multi_items():
        prefix, column, value = key[:3], key[3:], raw.strip()
        if prefix not in FILTERS or not value:
            continue
        if not _column_ok(column):
            notices.append(f"{key}: {column!r} is not a column (m:<title>/<series> or p:<section>/<name>); ignored")
            continue
        if prefix == "eq.":
            query.equals[column] = value
            continue
        number = as_number(value)
        if number is None or not math.isfinite(number):
            notices.append(f"{key}={value!r} is not a number; ignored this bound")
            continue
        low, high = query.ranges.get(column, (None, None))
        query.ranges[column] = (number, high) if prefix == "ge." else (low, number)


def table_query(project: str, params: QueryParams) -> tuple[TableQuery, list[str]]:
    """The experiments table request a query string asks for, and the notices of what was ignored."""
    notices: list[str] = []
    query = TableQuery(project=project)
    statuses = params.getlist("status")
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        notices.append(f"status {bad[0]!r} is unknown; use one of {', '.join(STATUSES)}")
    query.statuses = [s for s in statuses if s in STATUSES]
    query.tags = [t.strip() for t in params.getlist("tag") if t.strip()]
    query.not_tags = [t.strip() for t in params.getlist("not_tag") if t.strip()]
    tag_op = params.get("tag_op", "any")
    if tag_op not in ("any", "all"):
        notices.append(f"tag_op={tag_op!r} is neither any nor all; showing any")
    query.tags_all = tag_op == "all"
    query.name = params.get("name", "").strip()
    query.archived = params.get("archived", "") in ("1", "true", "on")
    query.columns = _columns(params, notices)
    _filters(query, params, notices)
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


def link_params(query: TableQuery) -> dict[str, Any]:
    """The query string of ``query`` (without ``page``), for the table's links: sort, pages, export."""
    out: dict[str, Any] = {
        "name": query.name,
        "status": query.statuses,
        "tag": query.tags,
        "tag_op": "all" if query.tags_all else "",
        "not_tag": query.not_tags,
        "archived": "1" if query.archived else "",
        "cols": ",".join(query.columns),
        "sort": query.sort,
        "order": "desc" if query.descending else "asc",
        "size": query.size,
    }
    for column, (low, high) in query.ranges.items():
        out[f"ge.{column}"] = "" if low is None else f"{low:.15g}"
        out[f"le.{column}"] = "" if high is None else f"{high:.15g}"
    out.update({f"eq.{column}": value for column, value in query.equals.items()})
    return out


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
