"""``hpo dashboard``: watch searches in optuna-dashboard."""

from __future__ import annotations

import signal
from typing import Annotated, Any, Optional

import typer

from hpo.cli._common import StorageOpt, console, err_console, run


def dashboard(
    study: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Argument(help="Study to open (default: the list of all studies)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 8080,
    storage: StorageOpt = None,
    web_host: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--web-host",
            help="ClearML web UI for task links (default: $CLEARML_WEB_HOST, else api.web_server in clearml.conf).",
        ),
    ] = None,
) -> None:
    """Serve optuna-dashboard over the searches' studies until Ctrl-C; prints its URL."""

    def work() -> None:
        import optuna

        from hpo.dashboard import start_dashboard

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        handle = start_dashboard(storage, study, port, web_host=web_host)
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
        console.print(handle.url, soft_wrap=True, highlight=False)
        err_console.print("optuna-dashboard is running; Ctrl-C stops it")
        try:
            handle.wait()
        except KeyboardInterrupt:
            pass  # the normal way to end it
        finally:
            handle.stop()

    run(work)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
