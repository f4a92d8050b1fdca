"""Read-only views of tasks, projects, models and queues, straight from the store.

Nothing here writes: pages read the store's shared documents and never mutate them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hpo.server import domain
from hpo.server._router import Data, Runtime
from hpo.server.domain import metric_key
from hpo.server.store import Store
from hpo.server.ui import _events

ALL = "*"  # the project id the SDK prints for a task without a project
STATUSES = tuple(s for s in domain.STATUSES if s not in domain.TRANSIENT_STATUSES)  # the filter's choices
BASE_COLUMNS = ("name", "status", "type", "tags", "started", "duration", "queue", "worker")
SORTABLE = (*BASE_COLUMNS, "created", "last_update")
PAGE_SIZES = (25, 50, 100, 200, 500)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def duration_s(task: Data) -> float | None:
    started = parse_time(task.get("started"))
    if started is None:
        return None
    end = parse_time(task.get("completed")) if task.get("status") != "in_progress" else None
    return ((end or datetime.now(timezone.utc)) - started).total_seconds()


def archived(doc: Data) -> bool:
    return "archived" in (doc.get("system_tags") or [])


def project_name(store: Store, project_id: str | None) -> str:
    if not project_id or project_id == ALL:
        return "All experiments"
    project = store.projects.get(project_id)
    return str(project.get("name")) if project else project_id


@dataclass(frozen=True)
class ProjectRow:
    id: str
    name: str
    depth: int
    tasks: int
    total: int  # with sub-projects


def projects(store: Store) -> list[ProjectRow]:
    """Every project, sub-projects under their parents, with their (non-archived) task counts."""
    counts: dict[Any, int] = {}
    for task in store.tasks:
        if not archived(task) and "hidden" not in (task.get("system_tags") or []):
            counts[task.get("project")] = counts.get(task.get("project"), 0) + 1
    docs = sorted(store.projects, key=lambda p: str(p.get("name", "")))
    names = {str(p.get("name", "")): p for p in docs}
    totals: dict[str, int] = {}
    for name in names:
        for other, other_doc in names.items():
            if other == name or other.startswith(name + "/"):
                totals[name] = totals.get(name, 0) + counts.get(other_doc["id"], 0)
    return [
        ProjectRow(str(p["id"]), str(p.get("name", "")), str(p.get("name", "")).count("/"),
                   counts.get(p["id"], 0), totals.get(str(p.get("name", "")), 0))
        for p in docs
    ]  # fmt: skip


def metric_names(tasks: list[Data]) -> list[str]:
    """Every ``title/series`` reported by these tasks, sorted."""
    found = {
        f"{last.get('metric', '')}/{last.get('variant', '')}"
        for task in tasks
        for per_metric in (task.get("last_metrics") or {}).values()
        for last in per_metric.values()
    }
    return sorted(found)


def param_names(tasks: list[Data]) -> list[str]:
    found = {
        f"{section}/{name}"
        for task in tasks
        for section, params in (task.get("hyperparams") or {}).items()
        for name in params
    }
    return sorted(found)


def last_metric(task: Data, key: str) -> Data | None:
    """The ``last_metrics`` entry (``value``, ``min_value``, ``max_value``) of ``title/series``."""
    title, _, series = key.partition("/")
    return _events.last_metric(task, title, series)


def param(task: Data, key: str) -> str | None:
    section, _, name = key.partition("/")
    entry = ((task.get("hyperparams") or {}).get(section) or {}).get(name)
    return None if entry is None else str(entry.get("value", ""))


def queue_names(store: Store) -> dict[str, str]:
    return {str(q["id"]): str(q.get("name", q["id"])) for q in store.queues}


def workers_by_task(runtime: Runtime) -> dict[str, str]:
    out: dict[str, str] = {}
    for worker in runtime.workers.values():
        task = worker.get("task")
        task_id = task.get("id") if isinstance(task, dict) else task
        if task_id:
            out[str(task_id)] = str(worker.get("id"))
    return out


@dataclass
class TableQuery:
    """An experiments table request, already checked (see ``_params.table_query``)."""

    project: str = ALL
    statuses: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # ClearML's tag filter: any (or all) of these ...
    tags_all: bool = False
    not_tags: list[str] = field(default_factory=list)  # ... and none of these
    name: str = ""
    sort: str = "created"
    descending: bool = True
    page: int = 1
    size: int = 50
    archived: bool = False
    columns: list[str] = field(default_factory=list)  # "m:title/series" (mn:, mx:) and "p:section/name"
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # column -> [low, high]
    equals: dict[str, str] = field(default_factory=dict)  # column -> value

    def keeps(self, task: Data) -> bool:
        """Whether ``task`` passes the tag and column filters."""
        tags = task.get("tags") or ()
        if self.tags and not (all if self.tags_all else any)(t in tags for t in self.tags):
            return False
        if any(t in tags for t in self.not_tags):
            return False
        for column, (low, high) in self.ranges.items():
            value = as_number(column_value(task, column))
            if value is None or (low is not None and value < low) or (high is not None and value > high):
                return False
        return all(_same(column_value(task, column), wanted) for column, wanted in self.equals.items())


# Metric columns: "m:" the last value, "mn:" the minimum, "mx:" the maximum (ClearML's last/min/max).
METRIC_FIELDS = {"m": "value", "mn": "min_value", "mx": "max_value"}


def column_value(task: Data, column: str) -> float | str | None:
    """The value of an extra column (``m:``/``mn:``/``mx:`` a metric, ``p:`` a parameter) for ``task``."""
    kind, _, key = column.partition(":")
    if kind == "p":
        return param(task, key)
    last = last_metric(task, key) if kind in METRIC_FIELDS else None
    value = None if last is None else last.get(METRIC_FIELDS[kind])
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def as_number(value: float | str | None) -> float | None:
    if value is None or isinstance(value, float):
        return value
    try:
        return float(value)
    except ValueError:
        return None


def _same(value: float | str | None, wanted: str) -> bool:
    number = as_number(wanted)
    if isinstance(value, float) or (number is not None and as_number(value) is not None):
        return number is not None and as_number(value) == number
    return value is not None and value.strip().lower() == wanted.strip().lower()


def _sort_key(query: TableQuery, queues: dict[str, str], workers: dict[str, str]) -> Any:
    col = query.sort
    kind, _, key = col.partition(":")
    if kind in METRIC_FIELDS:
        title, _, series = key.partition("/")
        title_key, series_key, value_field = metric_key(title), metric_key(series), METRIC_FIELDS[kind]

        def metric_value(task: Data) -> tuple[bool, float]:  # hashed once: this runs for every task
            entry = ((task.get("last_metrics") or {}).get(title_key) or {}).get(series_key)
            value = entry.get(value_field) if entry else None
            return (isinstance(value, int | float), float(value) if isinstance(value, int | float) else 0.0)

        return metric_value
    if col.startswith("p:"):
        key = col[2:]
        return lambda t: _natural(param(t, key))
    getters: dict[str, Any] = {
        "duration": lambda t: duration_s(t) or -1.0,
        "tags": lambda t: ",".join(t.get("tags") or []),
        "queue": lambda t: queues.get(str((t.get("execution") or {}).get("queue")), ""),
        "worker": lambda t: workers.get(str(t["id"])) or str(t.get("last_worker") or ""),
    }
    return getters.get(col, lambda t: str(t.get(col) or ""))


def _natural(value: str | None) -> tuple[int, float, str]:
    """Numbers before text, numbers by value, so '10' sorts after '9'."""
    if value is None:
        return (2, 0.0, "")
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def select_tasks(store: Store, runtime: Runtime, query: TableQuery) -> tuple[list[Data], int, list[Data]]:
    """The page of tasks the query asks for, the number matching, and every task of the project."""
    if query.project == ALL:
        scope = [t for t in store.tasks]
    else:
        scope = store.tasks.where("project", [query.project])
    rows: list[Data] = []
    visible: list[Data] = []
    for task in scope:
        tags = task.get("system_tags") or ()
        if "hidden" in tags:
            continue
        visible.append(task)
        if ("archived" in tags) == query.archived:
            rows.append(task)
    scope = visible
    if query.statuses:
        rows = [t for t in rows if t.get("status") in query.statuses]
    if query.tags or query.not_tags or query.ranges or query.equals:
        rows = [t for t in rows if query.keeps(t)]
    if query.name:
        needle = query.name.lower()
        rows = [t for t in rows if needle in str(t.get("name", "")).lower() or needle == t["id"]]
    rows.sort(key=_sort_key(query, queue_names(store), workers_by_task(runtime)), reverse=query.descending)
    start = (query.page - 1) * query.size
    return rows[start : start + query.size], len(rows), scope


def children(store: Store, parent_id: str) -> list[Data]:
    return [t for t in store.tasks if t.get("parent") == parent_id]


def literal(value: str) -> Any:
    """A parameter value as Python reads it ("['a']" -> ['a']), else the string itself."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def first(value: Any) -> str:
    """The first item of a list-valued parameter (the optimizer's objective title may be one)."""
    value = literal(value) if isinstance(value, str) else value
    if isinstance(value, list | tuple):
        return str(value[0]) if value else ""
    return str(value)


def objective_of(optimizer: Data) -> tuple[str, str, str] | None:
    """(title, series, sign) of a ClearML ``HyperParameterOptimizer`` task, from its General args.

    The optimizer connects its options as ``{"opt": {...}}``, so they read ``General/opt/...``.
    """
    general = (optimizer.get("hyperparams") or {}).get("General") or {}

    def option(name: str) -> Any:
        entry = general.get(f"opt/{name}") or general.get(name) or {}
        return entry.get("value")

    title, series = option("objective_metric_title"), option("objective_metric_series")
    if not title or not series:
        return None
    return first(title), first(series), first(option("objective_metric_sign") or "max")
