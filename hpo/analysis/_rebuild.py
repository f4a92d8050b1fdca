"""Rebuild a finished (or running) search from its optimizer task, for ``hpo analyze TASK_ID``.

Works for our optimizer tasks and for ClearML's stock ``HyperParameterOptimizer`` runs on any
server, through the public SDK only:

- the **trials** are the optimizer's child tasks (``parent`` == its id), archived ones included
  (ClearML's optimizer archives all but its top tasks);
- the **searched parameters** are the ``parameter_optimization_space`` of its ``General``
  configuration (``HyperParameterOptimizer`` writes it there), read back as Optuna distributions;
  without it, every parameter that varied across the children, ranged over the values seen;
- the **objective** is ``General/opt/objective_metric_title|series|sign`` of its hyperparameters,
  unless given (``--objective TITLE/SERIES --direction``);
- each child's **value** is its last (``max_global``/``min_global``: its max/min) report of the
  objective; its **learning curve** the series as it reported it; a stopped child that reported is
  ``pruned``, with our ``pruned_reason`` property when it has one.
"""

from __future__ import annotations

import ast
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from hpo import task_status
from hpo.analysis._records import TrialRecord, apply_times, queue_names, task_rows
from hpo.analysis._report import Analysis, build_analysis, report
from hpo.errors import ConfigError, NotFoundError
from hpo.study import Objective, TrialLabel

log = logging.getLogger(__name__)

PRUNED_PROPERTY = "pruned_reason"  # the user property a pruned trial's task carries (hpo.search._watch)
_OPT = "General/opt/"
_CHILD_FIELDS = ["name", "tags", "hyperparams", "last_metrics"]


def _literal(text: Any) -> Any:
    """A stored ClearML value (always text) as the Python value it spells, else the text."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _listed(value: Any) -> list[Any]:
    value = _literal(value)
    return list(value) if isinstance(value, list | tuple) else [value]


def objectives_of_task(params: Mapping[str, Any]) -> list[Objective]:
    """The objectives a ``HyperParameterOptimizer`` recorded on its task (``General/opt/...``).

    Raises:
        ConfigError: It recorded none.
    """
    titles, series = (
        _listed(params.get(_OPT + "objective_metric_title")),
        _listed(params.get(_OPT + "objective_metric_series")),
    )
    signs = _listed(params.get(_OPT + "objective_metric_sign"))
    if not titles or titles == [None] or len(titles) != len(series) or len(titles) != len(signs):
        raise ConfigError(
            "hpo analyze: the task records no objective (General/opt/objective_metric_title|series|sign);"
            " fix: pass --objective TITLE/SERIES and --direction max|min"
        )
    out = []
    for title, name, sign in zip(titles, series, signs, strict=True):
        sign = str(sign)
        rule = ("max" if sign.startswith("max") else "min") if sign.endswith("_global") else "last"
        out.append(Objective(str(title), str(name), "min" if sign.startswith("min") else "max", rule))
    return out


def distribution_of(entry: Mapping[str, Any]) -> BaseDistribution | None:
    """An Optuna distribution from one ``parameter_optimization_space`` entry (ClearML's ``Parameter.to_dict``)."""
    kind = str(entry.get("type"))
    if kind == "DiscreteParameterRange":
        return CategoricalDistribution([_choice(v) for v in entry.get("values") or []])
    if kind == "UniformIntegerParameterRange":
        return IntDistribution(int(entry["min_value"]), int(entry["max_value"]))
    if kind == "LogUniformParameterRange":
        base = float(entry.get("base") or 10)
        return FloatDistribution(base ** float(entry["min_value"]), base ** float(entry["max_value"]), log=True)
    if kind == "UniformParameterRange":
        return FloatDistribution(float(entry["min_value"]), float(entry["max_value"]))
    return None


def _choice(value: Any) -> Any:
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def space_of_task(task: Any) -> dict[str, BaseDistribution]:
    """The searched parameters from the optimizer's ``General`` configuration (empty when it has none)."""
    try:
        config = task.get_configuration_object_as_dict("General") or {}
    except Exception as err:  # no such configuration, or not a dict: inferred from the children
        log.info("optimizer task %s has no readable search space (%s); inferring it", task.id, err)
        return {}
    out = {}
    for entry in config.get("parameter_optimization_space") or []:
        dist = distribution_of(entry) if isinstance(entry, Mapping) else None
        if dist is not None and entry.get("name"):
            out[str(entry["name"])] = dist
    return out


def _flat_params(hyperparams: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for section, values in (hyperparams or {}).items():
        for name, entry in (values or {}).items():
            value = entry.get("value") if isinstance(entry, Mapping) else getattr(entry, "value", entry)
            out[f"{section}/{name}"] = "" if value is None else str(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict())
    return value


def _cast(text: str, dist: BaseDistribution | None) -> Any:
    if isinstance(dist, CategoricalDistribution):
        for choice in dist.choices:
            if str(choice) == text:
                return choice
        return None
    value = _literal(text)
    if isinstance(dist, IntDistribution):
        return int(float(value)) if isinstance(value, int | float) else None
    if isinstance(dist, FloatDistribution):
        return float(value) if isinstance(value, int | float) else None
    return value


def _metric(last_metrics: Mapping[str, Any], objective: Objective) -> float | None:
    key = {"last": "value", "min": "min_value", "max": "max_value"}[objective.value]
    for variants in (last_metrics or {}).values():
        for entry in (variants or {}).values():
            if entry.get("metric") == objective.title and entry.get("variant") == objective.series:
                value = entry.get(key)
                return None if value is None else float(value)
    return None


def _state(status: str, reported: bool) -> str:
    if status in task_status.SUCCEEDED:
        return TrialLabel.COMPLETED
    if status in task_status.ABORTED:
        return TrialLabel.PRUNED if reported else TrialLabel.STOPPED
    if status in task_status.FAILED:
        return TrialLabel.FAILED
    return TrialLabel.RUNNING if status == "in_progress" else TrialLabel.QUEUED


def _number(tags: Sequence[str]) -> int | None:
    for tag in tags:
        if tag.startswith("trial:") and tag[6:].isdigit():
            return int(tag[6:])
    return None


def child_records(
    optimizer_id: str, space: dict[str, BaseDistribution], objectives: Sequence[Objective]
) -> list[TrialRecord]:
    """One record per child task of the optimizer (numbered by our ``trial:N`` tag, else by creation)."""
    from clearml import Task

    ids = [str(i) for i in Task.query_tasks(task_filter={"parent": optimizer_id, "search_hidden": True})]
    rows = task_rows(ids, _CHILD_FIELDS)
    ordered = sorted(rows.values(), key=lambda r: (str(r.get("created") or ""), str(r["id"])))
    if not space:
        space = _inferred_space([_flat_params(_plain(r.get("hyperparams") or {})) for r in ordered])
    records, used = [], {n for n in (_number(list(r.get("tags") or [])) for r in ordered) if n is not None}
    spare = (n for n in range(len(ordered) + len(used) + 1) if n not in used)
    for row in ordered:
        number = _number(list(row.get("tags") or []))
        records.append(_child(row, next(spare) if number is None else number, space, objectives))
    queue_names(records)
    return records


def _child(
    row: Mapping[str, Any], number: int, space: dict[str, BaseDistribution], objectives: Sequence[Objective]
) -> TrialRecord:
    from clearml import Task

    flat = _flat_params(_plain(row.get("hyperparams") or {}))
    params = {name: _cast(flat[name], dist) for name, dist in space.items() if name in flat}
    params = {k: v for k, v in params.items() if v is not None}
    task: Any = Task.get_task(task_id=str(row["id"]))
    scalars = task.get_reported_scalars(x_axis="iter")
    first = objectives[0]
    curve = (scalars.get(first.title) or {}).get(first.series) or {}
    intermediate = {
        int(x): float(y) for x, y in zip(curve.get("x") or [], curve.get("y") or [], strict=False) if y is not None
    }
    values = [_metric(_plain(row.get("last_metrics") or {}), o) for o in objectives]
    state = _state(str(row.get("status") or ""), bool(intermediate))
    if state == TrialLabel.COMPLETED and any(v is None or math.isnan(v) for v in values):
        state = TrialLabel.FAILED  # completed without reporting the objective
    record = TrialRecord(
        number=number,
        state=state,
        params=params,
        distributions={k: space[k] for k in params},
        values=[float(v) for v in values if v is not None] if state == TrialLabel.COMPLETED else None,
        intermediate=intermediate,
        task_id=str(row["id"]),
    )
    apply_times(record, row)
    reason = flat.get(f"properties/{PRUNED_PROPERTY}")
    if reason:
        record.pruned = {"reason": reason, "step": max(intermediate) if intermediate else None}
    return record


def _inferred_space(flats: Sequence[Mapping[str, str]]) -> dict[str, BaseDistribution]:
    """Parameters that varied across the children: numbers as a float range, else categories."""
    names = sorted({k for f in flats for k in f if not k.startswith("properties/")})
    out: dict[str, BaseDistribution] = {}
    for name in names:
        values = [_literal(f[name]) for f in flats if name in f]
        if len({repr(v) for v in values}) <= 1:
            continue
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[name] = FloatDistribution(float(min(values)), float(max(values)))
        else:
            out[name] = CategoricalDistribution(sorted({str(v) for v in values}))
    return out


def get_task(task_id: str) -> Any:
    """The task ``task_id`` (a clearml Task).

    Raises:
        NotFoundError: The server has no such task.
    """
    from clearml import Task

    try:
        return Task.get_task(task_id=task_id)
    except ValueError as err:
        raise NotFoundError(
            f"hpo analyze: no task {task_id!r} on this server; fix: pass an optimizer task's id"
        ) from err


def _type_of(task: Any) -> str:
    kind = task.data.type
    return str(getattr(kind, "value", kind))


def analyze_task(task_id: str, objectives: Sequence[Objective] | None = None, publish: bool = True) -> Analysis:
    """Rebuild the trials of optimizer task ``task_id`` from its children and report the analysis onto it.

    Args:
        task_id: An optimizer task (ours, or a ClearML ``HyperParameterOptimizer``'s).
        objectives: The objective(s), when the task does not record them.
        publish: Report the analysis onto the task (else only build it).

    Raises:
        NotFoundError: No such task, or it has no child tasks and is no optimizer task.
        ConfigError: It records no objective and none was given.
    """
    task = get_task(task_id)
    chosen = list(objectives) if objectives else objectives_of_task(task.get_parameters(cast=False) or {})
    records = child_records(task_id, space_of_task(task), chosen)
    if not records and _type_of(task) != "optimizer":  # an optimizer with no trial yet is analysed: notes say so
        raise NotFoundError(
            f"hpo analyze: task {task_id} ({task.name}) has no child tasks; fix: pass the id of the optimizer task"
            " whose trials are its children"
        )
    analysis = build_analysis(records, chosen)
    if publish:
        report(task, analysis)
    return analysis


def analyze_optimizer(
    task_id: str, objectives: Sequence[Objective] | None = None, storage: Any = None
) -> tuple[Analysis, str]:
    """The analysis of optimizer task ``task_id``, reported onto it; and where its trials came from.

    Our own optimizer task (tagged ``study:NAME``, its study in ``storage`` naming it) is analysed from
    its study (``study NAME``), unless objectives are given; any other from its child tasks
    (``child tasks``), as :func:`analyze_task`.
    """
    task = get_task(task_id)
    study = None if objectives else _own_study(task, storage)
    if study is not None:
        from hpo.analysis._report import analyze_study

        return analyze_study(study, task), f"study {study.study_name}"
    return analyze_task(task_id, objectives), "child tasks"


def _own_study(task: Any, storage: Any) -> Any:
    """The study whose search made this optimizer task, when the storage has it."""
    from hpo.study import StudyAttr, as_storage, load, study_names

    names = [t.removeprefix("study:") for t in task.get_tags() or [] if t.startswith("study:")]
    try:
        store = as_storage(storage)
        known = set(study_names(store))
        for name in names:
            if name in known:
                study = load(name, store)
                if study.user_attrs.get(StudyAttr.OPTIMIZER_TASK_ID) == task.id:
                    return study
    except Exception as err:  # no local storage: the child tasks tell the same story
        log.info("cannot read the study of optimizer task %s (%s); using its child tasks", task.id, err)
    return None


__all__ = [
    "PRUNED_PROPERTY",
    "analyze_optimizer",
    "analyze_task",
    "child_records",
    "distribution_of",
    "objectives_of_task",
    "space_of_task",
]
