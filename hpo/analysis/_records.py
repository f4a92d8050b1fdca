"""One row per trial, whichever way it was found: from a study, or rebuilt from an optimizer's child tasks.

A :class:`TrialRecord` holds what the analysis needs of a trial: its searched parameters (with their
Optuna distributions), its objective values, its learning curve, its state word, why it was pruned,
and its task's times (created, started, ended) and worker. Times are seconds since the epoch.
``created`` is when its task was cloned, right before it was enqueued: ``started - created`` is its
queue wait.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.study import TrialAttr, TrialLabel, interrupted, launched, trial_label

log = logging.getLogger(__name__)

_TIME_FIELDS = ["status", "created", "started", "completed", "last_worker", "execution.queue"]
_BY_LABEL = {  # keyed by the plain words: a record's state is a string
    str(TrialLabel.COMPLETED): TrialState.COMPLETE,
    str(TrialLabel.PRUNED): TrialState.PRUNED,
    str(TrialLabel.FAILED): TrialState.FAIL,
    str(TrialLabel.STOPPED): TrialState.FAIL,
}


@dataclass
class TrialRecord:
    """One trial as the analysis sees it."""

    number: int
    state: str  # a TrialLabel word
    params: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    values: list[float] | None = None
    intermediate: dict[int, float] = field(default_factory=dict)
    task_id: str | None = None
    queue: str | None = None
    worker: str | None = None
    created: float | None = None
    started: float | None = None
    ended: float | None = None
    pruned: dict[str, Any] | None = None  # the pruned_at attribute (see hpo.analysis._prune)

    @property
    def queue_wait_s(self) -> float | None:
        """Seconds between its task's creation (then enqueued) and its start."""
        if self.created is None or self.started is None:
            return None
        return max(0.0, self.started - self.created)

    @property
    def run_s(self) -> float | None:
        """Seconds its task ran (started to ended)."""
        if self.started is None or self.ended is None:
            return None
        return max(0.0, self.ended - self.started)

    @property
    def steps(self) -> int:
        """Steps it trained: its last reported iteration + 1 (0 when it reported none)."""
        return max(self.intermediate) + 1 if self.intermediate else 0

    def frozen(self, distributions: Mapping[str, BaseDistribution]) -> FrozenTrial | None:
        """This trial for an in-memory Optuna study over ``distributions`` (one per parameter, shared by all
        trials); ``None`` when it has not ended (or completed without a value)."""
        state = _BY_LABEL.get(self.state)
        if state is None or (state == TrialState.COMPLETE and not self.values):
            return None
        params = {k: v for k, v in self.params.items() if k in distributions}
        return optuna.trial.create_trial(
            state=state,
            values=self.values if state == TrialState.COMPLETE else None,
            params=params,
            distributions={k: distributions[k] for k in params},
            intermediate_values=dict(self.intermediate),
            user_attrs={"number": self.number},
        )


def records_from_study(study: optuna.Study) -> list[TrialRecord]:
    """The trials of a search's study that ran (or run): duplicates, warm starts and interrupted trials
    left out; task times are filled in by :func:`add_task_times`."""
    out = []
    for trial in study.get_trials(deepcopy=False):
        if not launched(trial) or interrupted(trial):
            continue
        out.append(
            TrialRecord(
                number=trial.number,
                state=trial_label(trial),
                params=dict(trial.params),
                distributions=dict(trial.distributions),
                values=list(trial.values) if trial.values else None,
                intermediate=dict(trial.intermediate_values),
                task_id=str(trial.user_attrs.get(TrialAttr.TASK_ID)),
                queue=trial.user_attrs.get(TrialAttr.QUEUE),
                pruned=trial.user_attrs.get(TrialAttr.PRUNED_AT),
            )
        )
    return out


def epoch(value: Any) -> float | None:
    """A ClearML date (a ``datetime`` or an ISO string) as seconds since the epoch."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    try:
        text = str(value).replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # ClearML's dates are UTC
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def task_rows(task_ids: Sequence[str], fields: Iterable[str] = ()) -> dict[str, Mapping[str, Any]]:
    """``tasks.get_all`` rows of ``task_ids`` with their times and worker (pages of 500)."""
    from clearml import Task

    out: dict[str, Mapping[str, Any]] = {}
    ids = list(dict.fromkeys(task_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = Task.query_tasks(
            task_filter={"id": chunk, "page_size": len(chunk), "search_hidden": True},
            additional_return_fields=[*_TIME_FIELDS, *fields],
        )
        for row in rows:
            if isinstance(row, Mapping):
                out[str(row["id"])] = row
    return out


def apply_times(record: TrialRecord, row: Mapping[str, Any]) -> None:
    """Fill a record's times, worker and queue from its task's row (the end only once it ended)."""
    record.created = epoch(row.get("created"))
    record.started = epoch(row.get("started"))
    status = str(row.get("status") or "")
    record.ended = epoch(row.get("completed")) if status not in ("created", "queued", "in_progress") else None
    record.worker = str(row.get("last_worker") or "") or None
    record.queue = record.queue or _queue_name(row.get("execution.queue"))


def _queue_name(value: Any) -> str | None:
    return str(value) if value else None


def queue_names(records: Sequence[TrialRecord]) -> None:
    """Replace the queue ids some records hold (a task's ``execution.queue``) by the queues' names."""
    from clearml.backend_api.session.client import APIClient

    if not any(r.queue for r in records):
        return
    try:
        queues = APIClient().queues.get_all(only_fields=["id", "name"])
    except Exception as err:  # the ids are still a fair label
        log.info("cannot read the queues' names: %s", err)
        return
    names = {str(_field(q, "id")): str(_field(q, "name")) for q in queues}
    for record in records:
        record.queue = names.get(record.queue or "", record.queue)


def _field(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def add_task_times(records: Sequence[TrialRecord]) -> None:
    """Fill every record's times from its task, with one query per 500 tasks (a deleted task stays blank)."""
    rows = task_rows([r.task_id for r in records if r.task_id])
    for record in records:
        row = rows.get(record.task_id or "")
        if row is not None:
            apply_times(record, row)


def common_distributions(records: Sequence[TrialRecord]) -> dict[str, BaseDistribution]:
    """One distribution per parameter that holds every trial's value: a range widened to the values seen
    (a space edited between runs, a value rebuilt from a task), choices extended; the first trial's kind wins."""
    out: dict[str, BaseDistribution] = {}
    for name in dict.fromkeys(k for r in records for k in r.distributions):
        first = next(r.distributions[name] for r in records if name in r.distributions)
        values = [r.params[name] for r in records if name in r.params and name in r.distributions]
        out[name] = _holding(first, values)
    return out


def _holding(dist: BaseDistribution, values: Sequence[Any]) -> BaseDistribution:
    if isinstance(dist, CategoricalDistribution):
        extra = [v for v in dict.fromkeys(values) if v not in dist.choices]
        return CategoricalDistribution([*dist.choices, *extra]) if extra else dist
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if isinstance(dist, IntDistribution) and all(float(v).is_integer() for v in numbers):
        ilow, ihigh = min([dist.low, *map(int, numbers)]), max([dist.high, *map(int, numbers)])
        fits = dist.step == 1 or (ilow == dist.low and ihigh == dist.high)
        return IntDistribution(ilow, ihigh, log=dist.log and ilow > 0, step=dist.step if fits else 1)
    if isinstance(dist, FloatDistribution | IntDistribution):
        low, high = min([float(dist.low), *numbers]), max([float(dist.high), *numbers])
        if low == dist.low and high == dist.high and isinstance(dist, FloatDistribution):
            return dist
        return FloatDistribution(low, high, log=dist.log and low > 0)
    return dist


def view_study(records: Sequence[TrialRecord], directions: Sequence[str]) -> optuna.Study:
    """An in-memory study of the records' ended trials, for ``optuna.visualization``/``optuna.importance``."""
    chosen = [StudyDirection.MINIMIZE if d == "minimize" else StudyDirection.MAXIMIZE for d in directions]
    study = optuna.create_study(directions=chosen, storage=optuna.storages.InMemoryStorage())
    distributions = common_distributions(records)
    fitting = [r for r in records if r.values is None or len(r.values) == len(directions)]
    by_number = {r.number: r.frozen(distributions) for r in fitting}
    # Numbered as in the search: a gap (a duplicate, a running trial) is a placeholder FAIL trial,
    # which no chart draws, so trial N in a chart is trial N of the search.
    gap = optuna.trial.create_trial(state=TrialState.FAIL)
    frozen = [by_number.get(n) or gap for n in range(max(by_number, default=-1) + 1)]
    study.add_trials(frozen)
    return study


__all__ = [
    "TrialRecord",
    "add_task_times",
    "apply_times",
    "common_distributions",
    "epoch",
    "queue_names",
    "records_from_study",
    "task_rows",
    "view_study",
]
