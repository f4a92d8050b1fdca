"""``hpo analyze TASK_ID``: report a search's analysis onto its optimizer task, ours or ClearML's own."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from hpo.cli._common import ApiHostOpt, JsonOpt, StorageOpt, console, run, sdk_output_to_stderr
from hpo.cli._format import duration
from hpo.errors import ConfigError

if TYPE_CHECKING:
    from hpo.study import Objective


def _objectives(objective: str | None, direction: str | None) -> list[Objective] | None:
    """``--objective TITLE/SERIES --direction max|min`` as one objective (``None`` when not given)."""
    from hpo.study import Objective

    if objective is None:
        if direction is not None:
            raise ConfigError("hpo analyze: --direction needs --objective TITLE/SERIES; fix: pass both, or neither")
        return None
    title, _, series = objective.partition("/")
    if not title or not series:
        raise ConfigError(
            f"hpo analyze: --objective must be TITLE/SERIES, got {objective!r};"
            " fix: e.g. --objective validation/accuracy"
        )
    if direction not in ("max", "min"):
        raise ConfigError(f"hpo analyze: --direction must be max or min, got {direction!r}; fix: --direction max")
    return [Objective(title, series, direction)]


def _rows(table: list[list[object]]) -> list[dict[str, object]]:
    """A table (header first) as one dict per row."""
    header = [str(h) for h in table[0]]
    return [dict(zip(header, row, strict=True)) for row in table[1:]]


def analyze(
    task_id: Annotated[str, typer.Argument(help="The optimizer task's id (an `hpo search`, or a ClearML optimizer).")],
    objective: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="TITLE/SERIES of the objective, when the task does not record it \\[default: the task's]."),
    ] = None,
    direction: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="max or min: the objective's direction (with --objective)."),
    ] = None,
    storage: StorageOpt = None,
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild a search's trials from its optimizer task and report its analysis (plots, tables) onto it.

    Ours are analysed from their study when the storage has it; any other from its child tasks.
    """

    def work() -> None:
        import optuna

        from hpo.analysis._rebuild import analyze_optimizer
        from hpo.connection import connect

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # its "A new study created in memory" is noise here
        chosen = _objectives(objective, direction)  # bad options fail before any server work
        with sdk_output_to_stderr():
            connect(api_host)
            analysis, source = analyze_optimizer(task_id, chosen, storage)
        if as_json:
            out = {
                "task_id": task_id,
                "source": source,
                "plots": [[p.title, p.series] for p in analysis.plots],
                "tables": list(analysis.tables),
                "trials": _rows(analysis.tables["Trials"][1]),
                "notes": [[n.chart, n.missing] for n in analysis.notes],
                "cost": analysis.cost.as_dict(),
            }
            console.print_json(json.dumps(out, default=str))
            return
        # a line of its own: as the table's title it wrapped at the table's width, mid-sentence
        console.print(f"analysis reported onto task {task_id} (from its {source})", highlight=False, soft_wrap=True)
        table = Table()
        table.add_column("plot or table")
        table.add_column("series")
        for plot in analysis.plots:
            table.add_row(plot.title, plot.series)
        for title, (series, _) in analysis.tables.items():
            table.add_row(title, series)
        console.print(table)
        for note in analysis.notes:
            console.print(f"not shown: {escape(note.chart)}: {escape(note.missing)}", highlight=False)
        cost = analysis.cost
        console.print(  # durations as `hpo status` prints them (hpo.cli._format)
            f"compute {duration(cost.compute_s)}  queue wait {duration(cost.queue_wait_s)}"
            f"  saved by pruning {duration(cost.saved_by_pruning_s)} ({cost.steps_saved} steps)",
            highlight=False,
        )

    run(work)


__all__ = ["analyze"]
