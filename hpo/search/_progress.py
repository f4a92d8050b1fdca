"""How a search looks in a terminal: the live view while it runs and the table at the end.

Only renderables are built here; the command line prints them.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hpo.study import Summary, TrialLabel


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{name.split('/', 1)[-1]}={_value(value)}" for name, value in params.items())


def status_line(summary: Summary) -> Text:
    """One line: counts, best so far, elapsed and estimated time left."""
    c = summary.counts
    done = summary.done
    text = Text()
    text.append(f"{summary.study}", style="bold")
    text.append(f" [{summary.state}]  ")
    text.append(f"{done}/{summary.budget} done  ")
    text.append(
        f"{c[TrialLabel.COMPLETED]} completed  {c[TrialLabel.RUNNING]} running  {c[TrialLabel.QUEUED]} queued  ",
        style="cyan",
    )
    text.append(f"{c[TrialLabel.PRUNED]} pruned  {c[TrialLabel.FAILED]} failed", style="yellow")
    if c[TrialLabel.STOPPED]:
        text.append(f"  {c[TrialLabel.STOPPED]} stopped", style="yellow")
    if c[TrialLabel.DUPLICATE]:
        text.append(f"  {c[TrialLabel.DUPLICATE]} duplicates skipped")
    text.append(f"\nelapsed {_duration(summary.elapsed_s)}  left ~{_duration(summary.eta_s)}")
    if summary.best_value is not None:
        objective = "/".join(summary.objectives[0][:2]) if summary.objectives else "objective"
        text.append(f"\nbest {objective} = {_value(summary.best_value)}", style="green")
        text.append(f"  ({_params(summary.best_params)})  task {summary.best_task_id}")
    return text


def top_table(summary: Summary) -> Table:
    """The top completed trials with their task ids."""
    objective = "/".join(summary.objectives[0][:2]) if summary.objectives else "value"
    table = Table(title=f"top trials of {summary.study}")
    table.add_column("#", justify="right")
    table.add_column(objective, justify="right")
    table.add_column("params", overflow="fold", min_width=24)
    table.add_column("queue")
    table.add_column("task id", overflow="fold")
    for row in summary.top:
        table.add_row(
            str(row["number"]), _value(row["value"]), _params(row["params"]), row["queue"] or "-", row["task_id"]
        )
    return table


def live_view(summary: Summary) -> RenderableType:
    return Group(status_line(summary), top_table(summary)) if summary.top else status_line(summary)


def as_json(summary: Summary, **extra: Any) -> str:
    return json.dumps({**summary.as_dict(), **extra}, default=str)


__all__ = ["as_json", "live_view", "status_line", "top_table"]
