"""``hpo server``: the embedded ClearML-compatible server."""

from __future__ import annotations

import ipaddress
import json
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpo.cli._common import JsonOpt, console, err_console, run
from hpo.paths import default_server_dir
from hpo.server import _process

app = typer.Typer(help="Run the embedded ClearML-compatible server.", no_args_is_help=True)

DataDirOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option("--data-dir", help="Data directory \\[default: $HPO_HOME/server]."),
]


def _dir(data_dir: Path | None) -> Path:
    return (data_dir or default_server_dir()).expanduser().resolve()


def _warn_if_exposed(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        err_console.print(
            f"[yellow]\\[warning][/yellow] binding {host}: anyone who can reach this address and holds the"
            " credentials in the data dir can use the server; keep credentials.json private."
        )


@app.command()
def start(
    data_dir: DataDirOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[
        Optional[int],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option(help="Port to bind \\[default: 8008, or a free port when 8008 is taken]."),
    ] = None,
    foreground: Annotated[bool, typer.Option(help="Serve in this process (containers, debugging).")] = False,
) -> None:
    """Start the server in the background and return once it answers (idempotent)."""
    _warn_if_exposed(host)
    if foreground:
        from hpo.server._config import ServerConfig
        from hpo.server._serve import serve

        serve(ServerConfig(data_dir=_dir(data_dir), host=host, port=8008 if port is None else port))
        return

    def work() -> None:
        server, new = _process.start(_dir(data_dir), host, port)
        verb = "started" if new else "already running"
        console.print(f"server {verb} at {server.url} (pid {server.pid}, data dir {server.data_dir})")

    run(work)


@app.command()
def stop(data_dir: DataDirOpt = None) -> None:
    """Stop the server of a data directory."""
    stopped = _process.stop(_dir(data_dir))
    console.print("server stopped" if stopped else "no server running")


@app.command()
def status(
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show whether the server runs, where, and on which data directory."""
    server = _process.find(_dir(data_dir))
    info = (
        {"running": True, "url": server.url, "pid": server.pid, "data_dir": str(server.data_dir)}
        if server
        else {"running": False, "data_dir": str(_dir(data_dir))}
    )
    if as_json:
        console.print_json(json.dumps(info))
    elif server:
        console.print(f"running at {server.url} (pid {server.pid}, data dir {server.data_dir})")
    else:
        console.print(f"not running (data dir {info['data_dir']})")
    if not server:
        raise typer.Exit(3)


@app.command()
def env(data_dir: DataDirOpt = None) -> None:
    """Print ``export CLEARML_...`` lines for ``eval``; starts the server when it is not running.

    Its CLEARML_CONFIG_FILE includes your clearml.conf and turns the SDK's reporting subprocess off.
    """

    def work() -> None:
        server, _ = _process.start(_dir(data_dir))
        for key, value in server.env().items():
            print(f"export {key}={shlex.quote(value)}")

    run(work)


@app.command()
def ui(
    data_dir: DataDirOpt = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Also open the link in a web browser.")] = False,
) -> None:
    """Print a one-time sign-in link to the web UI (valid 5 minutes); starts the server when needed."""

    def work() -> None:
        from hpo.server.ui import sign_in_link

        server, _ = _process.start(_dir(data_dir))
        link = sign_in_link(server.credentials(), server.url, "/projects")
        print(link)
        if open_browser:
            import webbrowser

            webbrowser.open(link)

    run(work)
