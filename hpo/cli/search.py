"""``hpo search``, ``hpo status``, ``hpo studies`` and ``hpo stop``: run and watch searches."""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Annotated, Any, Optional

import typer
from rich.live import Live
from rich.table import Table

from hpo.cli._common import ApiHostOpt, JsonOpt, StorageOpt, console, err_console, run, sdk_output_to_stderr
from hpo.errors import HPOError, NotFoundError


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _sigterm_as_interrupt() -> None:
    """SIGTERM cleans up like Ctrl-C: queued trials dequeued, running ones aborted."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def search(
    space: Annotated[str, typer.Argument(help="A search space name (tfidf, bert) or a path to a YAML file.")],
    trials: Annotated[Optional[int], typer.Option(help="Trial budget \\[default: the space's].")] = None,  # noqa: UP045
    concurrency: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Trials running at once \\[default: the space's]."),
    ] = None,
    queue: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--queue", help="Queue to run trials on; repeat to route across several."),
    ] = None,
    local_workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Local agents to start for the search \\[default: 2 on the embedded server, else 0]."),
    ] = None,
    sampler: Annotated[Optional[str], typer.Option(help="tpe, random, cmaes, grid or nsga2.")] = None,  # noqa: UP045
    pruner: Annotated[Optional[str], typer.Option(help="none, median, asha or hyperband.")] = None,  # noqa: UP045
    time_limit: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--time-limit", help="Stop after this many minutes."),
    ] = None,
    study: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Study name \\[default: the space's name, numbered when taken]."),
    ] = None,
    storage: StorageOpt = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the study (--study, else the space's latest).")
    ] = False,
    retries: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Run a failed trial again up to N times."),
    ] = None,
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
    dashboard: Annotated[
        bool, typer.Option("--dashboard", help="Serve optuna-dashboard on 127.0.0.1 during the search.")
    ] = False,
    dashboard_port: Annotated[int, typer.Option("--dashboard-port", help="Its port; 0 picks a free one.")] = 8080,
) -> None:
    """Search a template's hyperparameters with Optuna, running trials on ClearML agents."""
    from hpo.dashboard import start_dashboard
    from hpo.search import SearchOptions, prepare, run_search
    from hpo.search._progress import as_json as summary_json
    from hpo.search._progress import live_view, top_table

    options = SearchOptions(
        space=space,
        trials=trials,
        concurrency=concurrency,
        queues=queue or [],
        local_workers=local_workers,
        sampler=sampler,
        pruner=pruner,
        time_limit_min=time_limit,
        study=study,
        storage=storage,
        resume=resume,
        retries=retries,
        api_host=api_host,
    )

    def work() -> None:
        _quiet_optuna()
        _sigterm_as_interrupt()
        prepare(options)  # a bad space fails here, before any server is contacted
        board = start_dashboard(options.storage, port=dashboard_port) if dashboard else None
        if board is not None:
            err_console.print(f"optuna-dashboard: {board.url}")
        live = Live(console=err_console, refresh_per_second=4, transient=True)
        show = not as_json and err_console.is_terminal
        with sdk_output_to_stderr():
            if show:
                live.start()
            try:
                result = run_search(options, progress=(lambda s: live.update(live_view(s))) if show else None)
            finally:
                if show:
                    live.stop()
                if board is not None:
                    board.stop()
        if as_json:
            promotion = result.promotion.as_dict() if result.promotion is not None else None
            console.print_json(
                summary_json(result.summary, reason=result.reason, queues=result.queues, promotion=promotion)
            )
        else:
            console.print(top_table(result.summary))
            best = result.summary.best_value
            console.print(f"{result.summary.study}: {result.reason}; best {best} (task {result.summary.best_task_id})")
            if result.promotion is not None:
                role = "champion" if result.promotion.champion else "challenger"
                console.print(f"model {result.promotion.model_id} promoted as {role}: {result.promotion.reason}")
        if result.error:
            raise HPOError(f"the search stopped early: {result.error}")
        if result.reason == "interrupted":
            sys.exit(130)

    run(work)


def _load_summary(study: str | None, storage: str | None) -> Any:
    from hpo import study as _study

    store = _study.open_storage(storage)
    name = study or _study.latest(store)
    if name is None:
        raise NotFoundError("no searches yet; run `hpo search tfidf`")
    return _study.summarize(_study.load(name, store))


def status(
    study: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Study name \\[default: the latest]."),
    ] = None,
    storage: StorageOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a running or finished search: counts, best trial, top trials."""
    from hpo.search._progress import as_json as summary_json
    from hpo.search._progress import status_line, top_table

    def work() -> None:
        _quiet_optuna()
        summary = _load_summary(study, storage)
        if as_json:
            console.print_json(summary_json(summary))
            return
        console.print(status_line(summary))
        if summary.top:
            console.print(top_table(summary))

    run(work)


def studies(storage: StorageOpt = None, as_json: JsonOpt = False) -> None:
    """List searches: name, state, progress and best value."""
    from hpo import study as _study

    def work() -> None:
        _quiet_optuna()
        store = _study.open_storage(storage)
        rows = [_load_summary(name, storage).as_dict() for name in _study.study_names(store)]
        rows.sort(key=lambda r: r["elapsed_s"])
        if as_json:
            console.print_json(json.dumps(rows, default=str))
            return
        table = Table("study", "state", "template", "done/budget", "best", "best task")
        for row in rows:
            c = row["counts"]
            done = c["completed"] + c["pruned"] + c["failed"] + c["stopped"]
            best = row["best"]
            table.add_row(
                row["study"],
                row["state"],
                str(row["template"]),
                f"{done}/{row['budget']}",
                str(best["value"]),
                str(best["task_id"] or "-"),
            )
        console.print(table if rows else "no searches yet; run `hpo search tfidf`")

    run(work)


def stop(
    study: Annotated[str, typer.Argument(help="Study name (see `hpo studies`).")],
    storage: StorageOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the search to wind down.")] = 60.0,
) -> None:
    """Ask a running search to stop: queued trials are dequeued, running ones aborted.

    When the search's controller has died, this does its cleanup itself.
    """
    from hpo import study as _study

    def work() -> None:
        _quiet_optuna()
        store = _study.open_storage(storage)
        attrs = _study.request_stop(store, study)
        if _study.controller_gone(attrs):
            from hpo.connection import connect
            from hpo.search._cleanup import stop_dead_search

            connect()
            done = stop_dead_search(store, study)
            console.print(
                f"{study}: stopped (its controller had died; aborted {done.aborted} trial(s),"
                f" discarded {done.discarded} never launched, stopped {done.agents} local agent(s))"
            )
            return
        deadline = time.monotonic() + timeout
        state = "running"
        while time.monotonic() < deadline:
            summary = _load_summary(study, storage)
            state = summary.state
            if state != _study.SearchState.RUNNING:
                break
            time.sleep(0.5)
        if state == _study.SearchState.RUNNING:
            raise HPOError(f"study {study!r} did not stop within {timeout:g} s; is its controller alive?")
        console.print(f"{study}: {state}")

    run(work)
