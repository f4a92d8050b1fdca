"""How a search looks in a terminal: the live view while it runs, the tables, and the one-line outcome.

Only renderables and strings are built here; the commands print them. Every line says the study's
state with the same word (a :class:`~hpo.study.SearchState`), and says why it ended when it has.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hpo.cli._format import duration as _duration
from hpo.cli._format import number as _value
from hpo.cli._format import short_id
from hpo.study import Objective, SearchState, StudyAttr, Summary, TrialLabel


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{name.split('/', 1)[-1]}={_value(value)}" for name, value in params.items())


def _objective(summary: Summary, default: str = "objective") -> str:
    return Objective.from_attr(summary.objectives[0]).label if summary.objectives else default


def state_word(summary: Summary) -> str:
    """``stopped: Ctrl-C``: the state, and why it ended when it has (``finished`` needs no reason)."""
    reason = summary.stop_reason
    if reason and (summary.state in (SearchState.STOPPED, SearchState.FAILED) or _early_end(summary)):
        return f"{summary.state}: {reason}"
    return summary.state


def _early_end(summary: Summary) -> bool:
    """A finished search that ended before its budget (``converged: ...``): its reason is worth a word."""
    return summary.state == SearchState.FINISHED and summary.stop_reason not in (None, "finished")


def best_text(summary: Summary) -> str:
    """``best validation/accuracy 0.8312 (trial 4, task abc)``, or that no trial completed yet."""
    if summary.best_value is None:
        return "no completed trial yet" if summary.state == SearchState.RUNNING else "no trial completed"
    trial = f"trial {summary.best_number}, " if summary.best_number is not None else ""
    return f"best {_objective(summary)} {_value(summary.best_value)} ({trial}task {summary.best_task_id})"


def outcome_line(summary: Summary) -> str:
    """The one line a search ends with: ``tfidf-3: stopped (Ctrl-C) after 2/10 trials; no trial completed``."""
    shown = summary.stop_reason and (summary.state != SearchState.FINISHED or _early_end(summary))
    reason = f" ({summary.stop_reason})" if shown else ""
    return (
        f"{summary.study}: {summary.state}{reason} after {summary.done}/{summary.budget} trials; {best_text(summary)}"
    )


def progress_line(summary: Summary) -> str:
    """One plain line for output that is no terminal: ``tfidf-3 [running] 7/20 done (2 running, 1 queued,
    1 failed); best cv/accuracy 0.8312 (trial 4); elapsed 1:15, left ~3:20``."""
    c = summary.counts
    counts = [f"{c.get(label, 0)} {label}" for label in (TrialLabel.RUNNING, TrialLabel.QUEUED)]
    counts += [f"{c[label]} {label}" for label in (TrialLabel.PRUNED, TrialLabel.FAILED) if c.get(label)]
    best = "no completed trial yet"
    if summary.best_value is not None:
        trial = f" (trial {summary.best_number})" if summary.best_number is not None else ""
        best = f"best {_objective(summary)} {_value(summary.best_value)}{trial}"
    left = f", left ~{_duration(summary.eta_s)}" if summary.eta_s is not None else ""
    return (
        f"{summary.study} [{state_word(summary)}] {summary.done}/{summary.budget} done ({', '.join(counts)});"
        f" {best}; elapsed {_duration(summary.elapsed_s)}{left}"
    )


def _time_left(summary: Summary) -> str:
    if summary.eta_s is not None:
        return f"left ~{_duration(summary.eta_s)}"
    if summary.state == SearchState.RUNNING:
        return "time left: known once a trial ends"
    return ""


def status_line(summary: Summary) -> Text:
    """Counts, elapsed and estimated time left, the best so far."""
    c = summary.counts
    text = Text()
    text.append(f"{summary.study}", style="bold")
    text.append(f" [{state_word(summary)}]  ")
    text.append(f"{summary.done}/{summary.budget} done\n")  # the counts on a line of their own: 80 columns
    text.append(
        f"{c[TrialLabel.COMPLETED]} completed  {c[TrialLabel.RUNNING]} running  {c[TrialLabel.QUEUED]} queued  ",
        style="cyan",
    )
    text.append(f"{c[TrialLabel.PRUNED]} pruned  {c[TrialLabel.FAILED]} failed", style="yellow")
    if c[TrialLabel.STOPPED]:
        text.append(f"  {c[TrialLabel.STOPPED]} stopped", style="yellow")
    if summary.interrupted:
        text.append(f"  {summary.interrupted} interrupted (not spent)", style="yellow")
    if c[TrialLabel.DUPLICATE]:
        text.append(f"  {c[TrialLabel.DUPLICATE]} duplicates skipped")
    if c.get(TrialLabel.WARM_START):
        text.append(f"  +{c[TrialLabel.WARM_START]} warm-start")
    text.append(f"\nelapsed {_duration(summary.elapsed_s)}  {_time_left(summary)}".rstrip())
    if summary.best_value is not None:
        text.append(f"\nbest {_objective(summary)} = {_value(summary.best_value)}", style="green")
        text.append(f"  ({_params(summary.best_params)})  task {short_id(summary.best_task_id)}")
    return text


def cost_line(summary: Summary) -> str | None:
    """``compute 0:42 (default 0:30, gpu 0:12)  queue wait 0:05  saved by pruning 0:20 (40 steps)``, or
    ``None`` before the search's first analysis measured it."""
    cost = summary.cost
    if not cost:
        return None
    queues = cost.get("per_queue") or {}
    per_queue = f" ({', '.join(f'{q} {_duration(s)}' for q, s in queues.items())})" if len(queues) > 1 else ""
    saved = f"  saved by pruning {_duration(cost.get('saved_by_pruning_s'))} ({cost.get('steps_saved', 0)} steps)"
    return (
        f"compute {_duration(cost.get('compute_s'))}{per_queue}  queue wait {_duration(cost.get('queue_wait_s'))}"
        f"{saved if cost.get('steps_saved') else ''}"
    )


def active_table(summary: Summary, now: float | None = None) -> Table:
    """The queued and running trials: how far each got (last reported iteration and objective value)."""
    now = time.time() if now is None else now
    table = Table(title="running trials", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("state")
    table.add_column("iteration", justify="right")
    table.add_column(f"last {_objective(summary, 'value')}", justify="right")
    table.add_column("for", justify="right")
    table.add_column("queue")
    table.add_column("task id", overflow="fold")
    for row in summary.active:
        age = now - row["started"] if row.get("started") else None
        table.add_row(
            str(row["number"]),
            str(row["state"]),
            _value(row["iteration"]),
            _value(row["value"]),
            _duration(age),
            row["queue"] or "-",
            short_id(row["task_id"]),
        )
    return table


def top_table(summary: Summary) -> Table:
    """The top completed trials with their task ids."""
    table = Table(title=f"top trials of {summary.study}")
    table.add_column("#", justify="right")
    table.add_column(_objective(summary, "value"), justify="right")
    table.add_column("params", overflow="fold", min_width=24)
    table.add_column("queue")
    table.add_column("task id", overflow="fold")
    for row in summary.top:
        row_id = short_id(row["task_id"])
        table.add_row(str(row["number"]), _value(row["value"]), _params(row["params"]), row["queue"] or "-", row_id)
    return table


def live_view(summary: Summary, log_file: str | None = None) -> RenderableType:
    """What the terminal shows while a search runs."""
    parts: list[RenderableType] = [status_line(summary)]
    if summary.active:
        parts.append(active_table(summary))
    if summary.top:
        parts.append(top_table(summary))
    if log_file:
        parts.append(Text(f"log: {log_file} (--verbose shows it here)", style="dim"))
    url = summary.attrs.get(StudyAttr.OPTIMIZER_URL)
    if url:  # the study view, live while the search runs (issue 19.5): worth opening now, not at the end
        parts.append(Text(f"study view: {url}", style="dim", overflow="fold"))
    return Group(*parts)


def as_json(summary: Summary, **extra: Any) -> str:
    return json.dumps({**summary.as_dict(), **extra}, default=str)


__all__ = [
    "active_table",
    "as_json",
    "best_text",
    "cost_line",
    "live_view",
    "outcome_line",
    "progress_line",
    "state_word",
    "status_line",
    "top_table",
]
