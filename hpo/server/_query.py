"""ClearML's ``*.get_all`` query language over in-memory documents.

Covers what the SDK and the agent send: regular-expression name patterns, id lists, value lists
for plain fields, tag lists with ClearML's operators (``-tag``, ``__$all``, ``__$any``,
``__$not``), ``only_fields`` with dotted paths, ``order_by`` with ``-`` for descending, and paging
(``page``/``page_size`` or ``size``/``scroll_id``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from hpo.server._errors import APIError, validation
from hpo.server.store import Collection

Doc = dict[str, Any]


@lru_cache(maxsize=1024)
def getter(path: str) -> Callable[[Any], Any]:
    """A compiled reader of a dotted path: the value, or ``None`` when any step is missing."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]

        def get_one(doc: Any) -> Any:
            return doc.get(key) if type(doc) is dict else None

        return get_one

    if len(parts) == 4:  # last_metrics.<title>.<series>.value: unrolled, the hot path of metric sorts
        a, b, c, d = parts

        def get_four(doc: Any) -> Any:
            try:
                return doc[a][b][c][d]
            except (KeyError, TypeError, IndexError):
                return None

        return get_four

    def get_nested(doc: Any) -> Any:
        try:
            for part in parts:
                doc = doc[part]
        except (KeyError, TypeError, IndexError):
            return None
        return doc

    return get_nested


def get_path(doc: Any, path: str) -> Any:
    """The value at a dotted path, or ``None`` when any step is missing."""
    return getter(path)(doc)


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as err:
        raise APIError(400, 21, f"Invalid regular expression: {pattern!r} ({err})") from err


def name_matches(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and _compile(pattern).search(value) is not None


def tags_match(tags: Iterable[str], terms: Sequence[str]) -> bool:
    """Apply a ClearML tag filter (``["a", "-b", "__$all", "c", "d", "__$not", "e"]``)."""
    present = set(tags or ())
    any_of: list[str] = []
    all_of: list[str] = []
    none_of: list[str] = []
    mode = "any"
    negate = False
    for term in terms:
        if term in ("__$all", "__$and"):
            mode = "all"
        elif term in ("__$any", "__$or"):
            mode = "any"
        elif term == "__$not":
            negate = True
        elif isinstance(term, str) and term.startswith("-"):
            none_of.append(term[1:])
        elif negate:
            none_of.append(term)
            negate = False
        else:
            (all_of if mode == "all" else any_of).append(term)
    if any(t in present for t in none_of):
        return False
    if not all(t in present for t in all_of):
        return False
    return not any_of or any(t in present for t in any_of)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


@dataclass(frozen=True)
class FieldRules:
    """How one collection's fields filter.

    Args:
        patterns: Fields matched as regular expressions (``name``).
        values: Fields matched against a list of accepted values.
        tags: Fields holding tag lists.
        ranges: Date fields that accept ``[from, to]`` (ISO strings, ``None`` open).
    """

    patterns: tuple[str, ...] = ("name",)
    values: tuple[str, ...] = ("id",)
    tags: tuple[str, ...] = ("tags", "system_tags")
    ranges: tuple[str, ...] = ()


def build_filter(body: dict[str, Any], rules: FieldRules) -> Callable[[Doc], bool]:
    """A predicate for the filter fields of a get_all request body."""
    checks: list[Callable[[Doc], bool]] = []
    for field in rules.patterns:
        pattern = body.get(field)
        if pattern is None:
            continue
        if not isinstance(pattern, str):
            raise validation(f"'{field}' must be a string pattern, got {type(pattern).__name__}")
        _compile(pattern)
        checks.append(_field_check(field, partial(_pattern_ok, pattern)))
    for field in rules.values:
        wanted = body.get(field)
        if wanted is None or wanted == []:
            continue
        accepted = {None if v in (None, "null") else v for v in _as_list(wanted)}
        checks.append(_field_check(field, partial(_value_in, accepted=accepted)))
    for field in rules.tags:
        terms = body.get(field)
        if not terms:
            continue
        term_list = _as_list(terms)
        checks.append(_field_check(field, partial(_tags_ok, term_list)))
    for field in rules.ranges:
        bounds = body.get(field)
        if not bounds:
            continue
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise validation(f"'{field}' must be a [from, to] list, got {bounds!r}")
        checks.append(_field_check(field, partial(_in_range, bounds=bounds)))
    for pattern_filter in (body.get("_any_"), body.get("_all_")):
        if isinstance(pattern_filter, dict) and pattern_filter.get("pattern"):
            fields = pattern_filter.get("fields") or ["name"]
            need_all = pattern_filter is body.get("_all_")
            checks.append(_multi_field(str(pattern_filter["pattern"]), fields, need_all))
    if not checks:
        return _keep_all
    if len(checks) == 1:
        return checks[0]
    return lambda doc: all(check(doc) for check in checks)


def _keep_all(doc: Doc) -> bool:
    return True


def _field_check(field: str, test: Callable[[Any], bool]) -> Callable[[Doc], bool]:
    read = getter(field)
    return lambda doc: test(read(doc))


def _pattern_ok(pattern: str, value: Any) -> bool:
    return name_matches(value, pattern)


def _tags_ok(terms: list[str], value: Any) -> bool:
    return tags_match(value or (), terms)


def _value_in(value: Any, accepted: set[Any]) -> bool:
    if isinstance(value, list):
        return any(v in accepted for v in value)
    try:
        return value in accepted
    except TypeError:
        return False


def _in_range(value: Any, bounds: list[Any]) -> bool:
    if value is None:
        return False
    low, high = bounds
    return (low is None or str(value) >= str(low)) and (high is None or str(value) <= str(high))


def _multi_field(pattern: str, fields: list[str], need_all: bool) -> Callable[[Doc], bool]:
    def check(doc: Doc) -> bool:
        hits = (name_matches(get_path(doc, f), pattern) for f in fields)
        return all(hits) if need_all else any(hits)

    return check


def project(doc: Doc, only_fields: Sequence[str] | None) -> Doc:
    """Keep only the given dotted fields (and ``id``), as a MongoDB inclusion projection does.

    An object on the path is kept even when the leaf is missing (``runtime.version`` of a task
    whose ``runtime`` is ``{}`` gives ``runtime: {}``): the SDK reads ``task.runtime.get(...)``
    from such answers (``Dataset._get_dataset_id``) and fails on a missing ``runtime``.
    """
    if not only_fields:
        return doc
    out: Doc = {}
    for path in ["id", *only_fields]:
        src: Any = doc
        cur = out
        parts = path.split(".")
        for part in parts[:-1]:
            src = src.get(part) if isinstance(src, dict) else None
            if not isinstance(src, dict):
                break
            cur = cur.setdefault(part, {})
        else:
            if isinstance(src, dict) and parts[-1] in src:
                cur[parts[-1]] = src[parts[-1]]
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, str(value))


def order(docs: list[Doc], order_by: Sequence[str] | str | None) -> list[Doc]:
    """Sort like ClearML: each key ascending, or descending with a leading ``-``; missing values sort lowest."""
    keys = [order_by] if isinstance(order_by, str) else list(order_by or [])
    for key in reversed([k for k in keys if k]):
        desc = key.startswith("-")
        read = getter(key.lstrip("-+"))
        values = [read(doc) for doc in docs]
        if all(v is None or type(v) in (int, float) for v in values):
            # the common case (metrics, counts): plain floats sort several times faster than tuples
            numeric = [-math.inf if v is None else v for v in values]
            ranked = sorted(range(len(docs)), key=numeric.__getitem__, reverse=desc)
        else:
            mixed = [_sort_key(v) for v in values]
            ranked = sorted(range(len(docs)), key=mixed.__getitem__, reverse=desc)
        docs = [docs[i] for i in ranked]  # sorted() is stable: earlier keys win ties
    return docs


def paginate(docs: list[Doc], body: dict[str, Any]) -> tuple[list[Doc], dict[str, Any]]:
    """Apply ``page``/``page_size`` or ``size``/``scroll_id``; returns the page and extra response fields."""
    page = body.get("page")
    page_size = body.get("page_size")
    if page is not None or page_size is not None:
        if not isinstance(page or 0, int) or not isinstance(page_size or 0, int):
            raise validation("'page' and 'page_size' must be integers")
        size = page_size or 500
        start = (page or 0) * size
        return docs[start : start + size], {}
    size = body.get("size")
    if size is not None:
        if not isinstance(size, int) or size < 0:
            raise validation(f"'size' must be a non-negative integer, got {size!r}")
        scroll = body.get("scroll_id")
        start = 0
        if isinstance(scroll, str) and scroll.isdigit() and not body.get("refresh_scroll"):
            start = int(scroll)
        return docs[start : start + size], {"scroll_id": str(start + size)}
    return docs, {}


def candidates(collection: Collection, body: dict[str, Any]) -> tuple[Iterable[Doc], dict[str, Any]]:
    """Narrow a query through an index when the body filters an indexed field.

    Returns:
        The documents that can match, and the body left to apply to them.
    """
    for field, wanted in body.items():
        if collection.indexed(field) and wanted:
            values = [None if v == "null" else v for v in _as_list(wanted)]
            rest = {k: v for k, v in body.items() if k != field}
            return collection.where(field, values), rest
    return collection, body


def run_query(docs: Iterable[Doc], body: dict[str, Any], rules: FieldRules) -> tuple[list[Doc], dict[str, Any]]:
    """Filter, sort, page and project documents for a get_all request."""
    keep = build_filter(body, rules)
    hits = list(docs) if keep is _keep_all else [d for d in docs if keep(d)]
    hits = order(hits, body.get("order_by"))
    page, extra = paginate(hits, body)
    only = body.get("only_fields")
    return [project(d, only) for d in page], extra
