"""ClearML's ``*.get_all`` query language over in-memory documents.

Covers what the SDK and the agent send: regular-expression name patterns, id lists, value lists
for plain fields, tag lists with ClearML's operators (``-tag``, ``__$all``, ``__$any``,
``__$not``), ``only_fields`` with dotted paths, ``order_by`` with ``-`` for descending, and paging
(``page``/``page_size`` or ``size``/``scroll_id``).

Dates filter as in ClearML Server (``[from, to]`` or ``">=2026-01-31"`` conditions, see
:mod:`hpo.server._dates`), also over several fields in ``_any_``/``_or_``/``_all_``/``_and_`` as
``{"fields": [...], "datetime": [...]}``: what ``clearml.automation.Monitor`` and
``TriggerScheduler`` send.

Ordering is ClearML's too: documents without a value for the first ``order_by`` key come last in
both directions, and values under ``hyperparams.``, ``execution.parameters.`` and
``last_metrics.`` compare numbers as numbers (``"2"`` before ``"11"``), as ClearML's numeric
collation does.

Patterns run on RE2 (linear time whatever the pattern, so ``^(a+)+$`` cannot stall the server)
with ClearML's case-insensitive search semantics. RE2 has no backreferences or lookaround; a
pattern using them answers 400 naming the problem, as does one longer than
:data:`MAX_PATTERN_CHARS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import re2

from hpo.server._dates import date_test
from hpo.server._errors import APIError, validation
from hpo.server.store import Collection

Doc = dict[str, Any]

MAX_PATTERN_CHARS = 4096
# Sizes no client needs and that make a query's cost explode (fields x documents).
MAX_ONLY_FIELDS = 1000
MAX_ORDER_BY = 32

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.case_sensitive = False
_RE2_OPTIONS.log_errors = False  # a bad pattern is the client's problem: answered, not logged
_RE2_OPTIONS.max_mem = 8 << 20  # bounds the compiled program, so a huge pattern fails cleanly


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
def _compile(pattern: str) -> Any:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise APIError(
            400, 21, f"Invalid regular expression: {len(pattern)} characters, at most {MAX_PATTERN_CHARS} allowed"
        )
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as err:
        detail = err.args[0].decode(errors="replace") if err.args and isinstance(err.args[0], bytes) else str(err)
        raise APIError(
            400,
            21,
            f"Invalid regular expression: {pattern[:80]!r} ({detail[:200]}); patterns use RE2 syntax"
            " (no backreferences or lookaround)",
        ) from err


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
        ranges: Date fields: a ``[from, to]`` pair or ``>=``/``<`` conditions (see the module docs).
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
        spec = body.get(field)
        if spec is not None and spec != []:
            checks.append(_field_check(field, date_test(field, spec)))
    for key, need_all in (("_any_", False), ("_or_", False), ("_all_", True), ("_and_", True)):
        multi = body.get(key)
        if isinstance(multi, dict):
            check = _multi_field(key, multi, need_all, rules.ranges)
            if check is not None:
                checks.append(check)
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


def _multi_field(key: str, spec: Doc, need_all: bool, dates: Sequence[str]) -> Callable[[Doc], bool] | None:
    """``{"fields": [...], "pattern": ...}`` or ``{"fields": [...], "datetime": ...}`` over several fields."""
    fields = spec.get("fields") or ["name"]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise validation(f"'{key}.fields' must be a list of field names, got {fields!r}"[:200])
    tests: list[Callable[[Doc], bool]] = []
    if spec.get("pattern"):
        pattern = str(spec["pattern"])
        _compile(pattern)
        tests = [_field_check(f, partial(_pattern_ok, pattern)) for f in fields]
    elif spec.get("datetime") is not None:
        tests = [_field_check(f, date_test(f"{key}.datetime", spec["datetime"])) for f in fields if f in dates]
    if not tests:
        return None

    def check(doc: Doc) -> bool:
        hits = (test(doc) for test in tests)
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


# ClearML sorts these user-defined values with a numeric collation ("2" before "11").
NUMERIC_COLLATION = ("hyperparams.", "execution.parameters.", "last_metrics.")
_DIGITS = re2.compile(r"(\d+)")


def _numeric_sort_key(value: Any) -> tuple[int, Any]:
    """Numbers (also numbers in strings) by value, then other text with its digit runs as numbers."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        return (1, number)
    parts = _DIGITS.split(text.casefold())
    return (2, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def order(docs: list[Doc], order_by: Sequence[str] | str | None) -> list[Doc]:
    """Sort like ClearML: each key ascending, or descending with a leading ``-``.

    Documents without a value for the first key come last in either direction (ClearML queries
    them apart); for the other keys a missing value sorts lowest, as in MongoDB.
    """
    keys = [k for k in ([order_by] if isinstance(order_by, str) else list(order_by or [])) if k]
    for key in reversed(keys):
        desc = key.startswith("-")
        field = key.lstrip("-+")
        read = getter(field)
        values = [read(doc) for doc in docs]
        if all(v is None or type(v) in (int, float) for v in values):
            # the common case (metrics, counts): plain floats sort several times faster than tuples
            numeric = [-math.inf if v is None else v for v in values]
            ranked = sorted(range(len(docs)), key=numeric.__getitem__, reverse=desc)
        else:
            to_key = _numeric_sort_key if field.startswith(NUMERIC_COLLATION) else _sort_key
            mixed = [to_key(v) for v in values]
            ranked = sorted(range(len(docs)), key=mixed.__getitem__, reverse=desc)
        docs = [docs[i] for i in ranked]  # sorted() is stable: earlier keys win ties
    if keys:
        read = getter(keys[0].lstrip("-+"))
        present = [d for d in docs if not _empty(read(d))]
        if len(present) < len(docs):
            docs = present + [d for d in docs if _empty(read(d))]
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


def _check_sizes(body: dict[str, Any]) -> None:
    only, order_by = body.get("only_fields"), body.get("order_by")
    if isinstance(only, list) and len(only) > MAX_ONLY_FIELDS:
        raise validation(f"'only_fields' names {len(only)} fields, at most {MAX_ONLY_FIELDS} are allowed")
    if isinstance(order_by, list) and len(order_by) > MAX_ORDER_BY:
        raise validation(f"'order_by' names {len(order_by)} keys, at most {MAX_ORDER_BY} are allowed")


def run_query(docs: Iterable[Doc], body: dict[str, Any], rules: FieldRules) -> tuple[list[Doc], dict[str, Any]]:
    """Filter, sort, page and project documents for a get_all request."""
    _check_sizes(body)
    keep = build_filter(body, rules)
    hits = list(docs) if keep is _keep_all else [d for d in docs if keep(d)]
    hits = order(hits, body.get("order_by"))
    page, extra = paginate(hits, body)
    only = body.get("only_fields")
    return [project(d, only) for d in page], extra
