"""``hpo search``, ``hpo status``, ``hpo studies`` and ``hpo stop``: run and watch searches."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from hpo.cli._common import (
    ApiHostOpt,
    JsonOpt,
    StorageOpt,
    console,
    err_console,
    interrupt_exit_code,
    run,
    sdk_output_to_stderr,
    sigterm_as_interrupt,
)
from hpo.errors import HPOError

if TYPE_CHECKING:
    from hpo.cli._logs import PlainProgress
    from hpo.search import SearchOptions, SearchResult
    from hpo.search._drive import ProgressFn
    from hpo.study import Summary


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


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
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the ClearML SDK's and optimizer's log lines.")
    ] = False,
    stop_when: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--stop-when",
            help="converged: end once Optuna's regret bound says more trials cannot beat the best by more"
            " than the objective's noise (docs/search.md) \\[default: off].",
        ),
    ] = None,
    converge_min_trials: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Completed trials before --stop-when converged is evaluated \\[default: 20]."),
    ] = None,
    converge_noise: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="The objective's noise where the template reports no <series>_se \\[default: 0.01]."),
    ] = None,
    warm_start: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--warm-start",
            help="PROJECT\\[/TAG]: add its completed tasks of the same template to the study first (not counted).",
        ),
    ] = None,
    output_uri: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--output-uri",
            help="Where trials upload models and artifacts (s3://..., gs://..., https://files..., a shared folder)"
            " \\[default: a configured server's files host; on the embedded default its file server].",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Run one canary trial first and stop, before the budget, when a sampled value does not reach"
            " the script or the objective is not reported (docs/search.md).",
        ),
    ] = False,
) -> None:
    """Search a template's hyperparameters with Optuna, running trials on ClearML agents.

    The terminal shows the search; the ClearML SDK's and optimizer's lines go to its log file
    (under $HPO_HOME/logs), and also to the terminal with --verbose.
    """
    from hpo.search import SearchOptions, new_log_file

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
        stop_when=stop_when,
        converge_min_trials=converge_min_trials,
        converge_noise=converge_noise,
        warm_start=warm_start,
        output_uri=output_uri,
        check=check,
    )

    def work() -> None:
        from hpo.search import prepare

        _quiet_optuna()
        sigterm_as_interrupt()  # SIGTERM cleans up like Ctrl-C: queued trials dequeued, running ones aborted
        prepare(options)  # a bad space fails here, before any server is contacted
        options.log_file = new_log_file()
        result = _run_with_view(options, as_json, verbose, dashboard_port if dashboard else None)
        _report(result, as_json, str(options.log_file))
        if result.error:
            raise HPOError(f"the search stopped early: {result.error}")
        if result.interrupted:
            sys.exit(interrupt_exit_code(result.reason))  # 130 after Ctrl-C, 143 after SIGTERM

    run(work)


def _run_with_view(options: SearchOptions, as_json: bool, verbose: bool, dashboard_port: int | None) -> SearchResult:
    """Run the search with its log lines routed (see ``_logs``) and, on a terminal, the live view."""
    from hpo.cli._logs import live_view, search_logging
    from hpo.dashboard import start_dashboard
    from hpo.search import run_search

    assert options.log_file is not None
    log_file = str(options.log_file)
    show = not as_json and err_console.is_terminal
    plain = _plain_progress(as_json)  # output that is no terminal gets a progress line every few seconds
    with search_logging(options.log_file, err_console, verbose=verbose), contextlib.ExitStack() as stack:
        board = start_dashboard(options.storage, port=dashboard_port) if dashboard_port is not None else None
        if board is not None:
            stack.callback(board.stop)
            err_console.print(f"optuna-dashboard: {board.url}")
        # The live view owns the terminal: nothing it does not draw may write there (see _logs).
        update = stack.enter_context(live_view(err_console)) if show else None
        return run_search(options, progress=_progress(update, plain, log_file))


def _plain_progress(as_json: bool) -> PlainProgress | None:
    """Progress lines on stderr with --json, else on stdout when it is no terminal (| tee, CI, nohup)."""
    from hpo.cli._logs import PlainProgress

    if as_json:
        return None if err_console.is_terminal else PlainProgress(err_console)
    return None if console.is_terminal else PlainProgress(Console(file=sys.stdout))  # before the log redirect


def _progress(
    update: Callable[[RenderableType], None] | None, plain: PlainProgress | None, log_file: str
) -> ProgressFn | None:
    from hpo.cli import _view

    def show(summary: Summary) -> None:
        if update is not None:
            update(_view.live_view(summary, log_file))
        if plain is not None:
            plain(summary)

    return show if update is not None or plain is not None else None


def _report(result: SearchResult, as_json: bool, log_file: str) -> None:
    from hpo.cli import _view
    from hpo.cli._format import promotion_lines
    from hpo.study import StudyAttr

    if as_json:
        promotion = result.promotion.as_dict() if result.promotion is not None else None
        console.print_json(
            _view.as_json(result.summary, reason=result.reason, queues=result.queues, promotion=promotion)
        )
        return
    warm = result.summary.attrs.get(StudyAttr.WARM_START) or {}
    if warm.get("message"):
        console.print(escape(str(warm["message"])), highlight=False)
    if result.summary.top:
        console.print(_view.top_table(result.summary))
    console.print(escape(_view.outcome_line(result.summary)), highlight=False, soft_wrap=True)  # whole task id
    if result.promotion is not None:
        done = result.promotion
        for line in promotion_lines(done.model_id, done.champion, done.reason, done.study):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    if result.summary.attrs.get(StudyAttr.OPTIMIZER_URL):
        err_console.print(
            f"trials in the web UI: {result.summary.attrs[StudyAttr.OPTIMIZER_URL]}", highlight=False, soft_wrap=True
        )
    err_console.print(f"log: {escape(log_file)}", highlight=False, soft_wrap=True)  # a path stays whole to copy


def status(
    study: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Study name \\[default: the latest]."),
    ] = None,
    storage: StorageOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a running or finished search: counts, running trials, best trial, top trials."""

    def work() -> None:
        from hpo.cli import _view
        from hpo.search import search_status
        from hpo.study import StudyAttr

        _quiet_optuna()
        summary = search_status(study, storage)
        if as_json:
            console.print_json(_view.as_json(summary))
            return
        console.print(_view.status_line(summary))
        cost = _view.cost_line(summary)
        if cost:
            console.print(cost, highlight=False)
        from hpo.agents import watch_notes
        from hpo.search._controller import local_agents_home

        for note in watch_notes(local_agents_home(summary.study)):  # its local agents that died
            console.print(f"[yellow]\\[warning][/yellow] {escape(note)}", highlight=False, soft_wrap=True)
        if summary.active:
            console.print(_view.active_table(summary))
        if summary.top:
            console.print(_view.top_table(summary))
        if summary.log_file:
            console.print(f"log: {escape(summary.log_file)}", style="dim", highlight=False)
        if summary.attrs.get(StudyAttr.OPTIMIZER_URL):
            console.print(
                f"trials in the web UI: {summary.attrs[StudyAttr.OPTIMIZER_URL]}", highlight=False, soft_wrap=True
            )

    run(work)


def studies(storage: StorageOpt = None, as_json: JsonOpt = False) -> None:
    """List searches, the first started first: name, state, progress and best value."""

    def work() -> None:
        from hpo.cli import _view
        from hpo.cli._format import number, short_id
        from hpo.search import NO_SEARCHES, list_studies
        from hpo.study import StudyAttr

        _quiet_optuna()
        summaries = list_studies(storage)
        if as_json:
            console.print_json(json.dumps([s.as_dict() for s in summaries], default=str))
            return
        if not summaries:
            console.print(NO_SEARCHES)
            return
        table = Table("study", "state", "template", "done/budget", "best", "best task")
        for summary in summaries:
            table.add_row(
                summary.study,
                _view.state_word(summary),
                str(summary.attrs.get(StudyAttr.TEMPLATE)),
                f"{summary.done}/{summary.budget}",
                number(summary.best_value),
                short_id(summary.best_task_id),
            )
        console.print(table)

    run(work)


def stop(
    study: Annotated[str, typer.Argument(help="Study name (see `hpo studies`).")],
    storage: StorageOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the search to wind down.")] = 60.0,
    api_host: ApiHostOpt = None,
) -> None:
    """Ask a running search to stop: queued trials are dequeued, running ones aborted.

    When the search's controller has died, this does its cleanup itself (on --api-host, else the
    configured server).
    """

    def work() -> None:
        from hpo.search import stop_search

        _quiet_optuna()
        with sdk_output_to_stderr():
            result = stop_search(study, storage, timeout=timeout, api_host=api_host)
        done = result.cleanup
        if done is None:
            console.print(f"{study}: {result.state}")
            return
        console.print(
            f"{study}: {result.state} (its controller had died; aborted {done.aborted} trial(s),"
            f" discarded {done.discarded} never launched, stopped {done.agents} local agent(s))"
        )

    run(work)
