"""What a run says about itself: its arguments (with section, value and type), its configuration
objects, its Hydra configuration and the metrics it reported.

Everything comes from the task through the public SDK, so it works for any run on any ClearML
server. A template copy (:mod:`hpo.templates._user`) has no metrics of its own: it carries the tag
``template-source:<run id>`` and its metrics are read from that run while it exists.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from hpo.errors import NotFoundError

log = logging.getLogger(__name__)

SOURCE_PREFIX = "template-source:"  # a template copy's run: ``template-source:<run id>``
HYDRA_SECTION = "Hydra"
HYDRA_CONFIG = "OmegaConf"  # the configuration object where clearml's Hydra binding stores the config
HYDRA_EDIT = "Hydra/_allow_omegaconf_edit_"  # True: the Hydra/ section is ignored, the OmegaConf text wins
MONITOR_PREFIX = ":monitor:"  # the SDK's machine monitoring, never an objective


@dataclass(frozen=True)
class Argument:
    """One parameter of a run, as ClearML names it (``Args/lr``), its recorded value and type."""

    name: str
    value: str
    type: str = ""
    description: str = ""


@dataclass(frozen=True)
class Metric:
    """A scalar a run reported: last, min and max value and how many iterations it was reported at."""

    title: str
    series: str
    last: float
    min: float
    max: float
    iterations: int

    @property
    def name(self) -> str:
        return f"{self.title}/{self.series}"


@dataclass(frozen=True)
class RunInfo:
    """A run (or a template copy) read from the server.

    Attributes:
        arguments: Its parameters, in the order the server returned them.
        configurations: Names of its configuration objects (``connect_configuration``).
        hydra: Its Hydra configuration's leaves as ``Hydra/dotted.key -> value`` (searchable as
            overrides), empty without Hydra.
        metrics: What it (or the run it copies) reported; empty when nothing was.
    """

    id: str
    name: str
    project: str
    status: str
    arguments: tuple[Argument, ...]
    configurations: tuple[str, ...]
    hydra: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, str]:
        return {a.name: a.value for a in self.arguments}

    @property
    def is_hydra(self) -> bool:
        return bool(self.hydra) or HYDRA_EDIT in self.params

    def searchable(self) -> set[str]:
        """Every name a space may search: the run's parameters and its Hydra overrides (a Hydra run's
        ``Args/`` section is Hydra's own command line, not the script's arguments)."""
        names = set(self.params) | set(self.hydra)
        return {n for n in names if not n.startswith("Args/")} if self.is_hydra else names

    def metric(self, title: str, series: str) -> Metric | None:
        return next((m for m in self.metrics if (m.title, m.series) == (title, series)), None)


def get_task(task_id: str) -> Any:
    """The SDK task of ``task_id``.

    Raises:
        NotFoundError: No such task on this server.
    """
    from clearml import Task

    try:
        # Asked first with a query: Task.get_task of an unknown id logs two SDK errors before it raises.
        exists = bool(Task.query_tasks(task_filter={"id": [task_id], "search_hidden": True}))
        if exists:
            return Task.get_task(task_id=task_id)
        raise ValueError(f"no task {task_id}")
    except ValueError as err:  # the SDK's "Task ... not found"
        raise NotFoundError(
            f"task {task_id!r} does not exist on this server; fix: pass the id of a run (see the web UI or"
            " `hpo template list`)"
        ) from err


def read_run(task_id: str) -> RunInfo:
    """Read a run, or a template copy with the metrics of the run it copies.

    Raises:
        NotFoundError: No such task.
    """
    task = get_task(task_id)
    exported = task.export_task()
    arguments = [
        Argument(
            f"{section}/{name}",
            str(item.get("value") if item.get("value") is not None else ""),
            str(item.get("type") or ""),
            str(item.get("description") or ""),
        )
        for section, items in (exported.get("hyperparams") or {}).items()
        for name, item in (items or {}).items()
    ]
    configurations = exported.get("configuration") or {}
    tags = tuple(task.get_tags() or [])
    source = next((t.removeprefix(SOURCE_PREFIX) for t in tags if t.startswith(SOURCE_PREFIX)), None)
    return RunInfo(
        id=str(task.id),
        name=str(task.name or ""),
        project=str(task.get_project_name() or ""),
        status=str(task.get_status()),
        arguments=tuple(arguments),
        configurations=tuple(configurations),
        hydra=_hydra(configurations.get(HYDRA_CONFIG)),
        metrics=_metrics(_source_task(source) if source else task),
        tags=tags,
    )


def _source_task(task_id: str) -> Any:
    try:
        return get_task(task_id)
    except NotFoundError:
        log.info("the run %s a template was copied from is gone: its metrics are unknown", task_id)
        return None


def _hydra(config: Mapping[str, Any] | None) -> dict[str, Any]:
    if not config or not config.get("value"):
        return {}
    try:
        tree = yaml.safe_load(str(config["value"]))
    except yaml.YAMLError:
        log.warning("the run's Hydra configuration is not YAML; its keys are not searchable")
        return {}
    leaves: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif prefix and not isinstance(node, list):
            leaves[f"{HYDRA_SECTION}/{prefix}"] = node

    walk(tree, "")
    return leaves


def _metrics(task: Any) -> tuple[Metric, ...]:
    if task is None:
        return ()
    last = task.get_last_scalar_metrics() or {}
    history = task.get_reported_scalars() or {}
    out = []
    for title, series_map in last.items():
        if title.startswith(MONITOR_PREFIX):
            continue
        for series, values in series_map.items():
            points = ((history.get(title) or {}).get(series) or {}).get("x") or []
            out.append(
                Metric(
                    title,
                    series,
                    float(values.get("last", float("nan"))),
                    float(values.get("min", float("nan"))),
                    float(values.get("max", float("nan"))),
                    len(set(points)) or 1,
                )
            )
    return tuple(out)


__all__ = [
    "HYDRA_CONFIG",
    "HYDRA_EDIT",
    "HYDRA_SECTION",
    "SOURCE_PREFIX",
    "Argument",
    "Metric",
    "RunInfo",
    "get_task",
    "read_run",
]
