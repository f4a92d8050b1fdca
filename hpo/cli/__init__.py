"""The ``hpo`` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from hpo import __version__
from hpo.cli import agent, analyze, dashboard, data, promote, register, search, server, space, template
from hpo.cli._common import console, set_debug

app = typer.Typer(
    name="hpo",
    help="Hyperparameter optimisation for ClearML, with an embedded ClearML-compatible server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(server.app, name="server")
app.add_typer(agent.app, name="agent")
app.add_typer(data.app, name="data")
app.add_typer(template.app, name="template")
app.add_typer(space.app, name="space")
app.command("register")(register.register)
app.command("search")(search.search)
app.command("status")(search.status)
app.command("studies")(search.studies)
app.command("stop")(search.stop)
app.command("analyze")(analyze.analyze)
app.command("dashboard")(dashboard.dashboard)
app.command("promote")(promote.promote)
app.command("best")(promote.best)
app.command("predict")(promote.predict)


def _version(value: bool) -> None:
    if value:
        console.print(f"clearml-hpo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    set_debug(debug)


def main() -> None:
    app()


__all__ = ["app", "main"]
