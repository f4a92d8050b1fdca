"""ClearML Server's date filters in ``*.get_all`` queries, as tests over stored ISO dates.

A filter is a ``[from, to]`` pair (either end ``None``, open; an open start also matches a
missing date, as ClearML's range query does), or conditions such as ``">=2026-01-31T12:00:00"``
(``>``, ``>=``, ``<``, ``<=``, or none for the same instant; one string or a list, all must hold).
A date without a zone is UTC, as ClearML reads it. An unreadable date answers 400 instead of
being ignored, so a filter never silently matches everything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from typing import Any

from hpo.server._errors import validation

_DATE_OPS: dict[str, Callable[[datetime, datetime], bool]] = {
    ">=": datetime.__ge__,
    "<=": datetime.__le__,
    ">": datetime.__gt__,
    "<": datetime.__lt__,
    "": datetime.__eq__,
}


def _read_date(field: str, text: Any) -> datetime:
    """A query's date, aware (UTC when it names no zone)."""
    if not isinstance(text, str):
        raise validation(f"'{field}': a date must be a string, got {type(text).__name__}")
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise validation(
            f"'{field}': cannot read {text[:60]!r} as a date; use ISO 8601, e.g. '>=2026-01-31T12:00:00'"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _stored_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def date_test(field: str, spec: Any) -> Callable[[Any], bool]:
    """A test of one stored date against a query's ``[from, to]`` pair or its conditions.

    Raises:
        APIError: The spec is not a pair or conditions, or names an unreadable date (400).
    """
    terms = spec if isinstance(spec, list) else [spec]
    ops = tuple(op for op in _DATE_OPS if op)
    if len(terms) == 2 and not any(isinstance(t, str) and t.startswith(ops) for t in terms):
        low, high = (None if t is None else _read_date(field, t) for t in terms)
        if low is None and high is None:
            raise validation(f"'{field}': give at least one end of the [from, to] range")
        return partial(_in_range, low=low, high=high)
    conditions = []
    for term in terms:
        if not isinstance(term, str):
            raise validation(f"'{field}' takes date conditions such as '>=2026-01-31', got {term!r}"[:200])
        op = next((o for o in ops if term.startswith(o)), "")
        conditions.append((_DATE_OPS[op], _read_date(field, term[len(op) :])))
    return partial(_meets, conditions=conditions)


def _in_range(value: Any, low: datetime | None, high: datetime | None) -> bool:
    when = _stored_date(value)
    if when is None:
        return low is None and value is None  # ClearML: an open start matches a missing date
    return (low is None or when >= low) and (high is None or when <= high)


def _meets(value: Any, conditions: list[tuple[Callable[[datetime, datetime], bool], datetime]]) -> bool:
    when = _stored_date(value)
    return when is not None and all(test(when, bound) for test, bound in conditions)
