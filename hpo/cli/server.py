"""``hpo server``: the embedded ClearML-compatible server."""

from __future__ import annotations

import ipaddress
import json
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpo import local_server
from hpo.cli._common import JsonOpt, console, err_console, run
from hpo.paths import default_server_dir
from hpo.server import DEFAULT_PORT

app = typer.Typer(help="Run the embedded ClearML-compatible server.", no_args_is_help=True)

DataDirOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option("--data-dir", help="Data directory \\[default: $HPO_HOME/server]."),
]
PathOpt = Optional[Path]  # noqa: UP045 - typer reads the annotation at runtime


def _dir(data_dir: Path | None) -> Path:
    return (data_dir or default_server_dir()).expanduser().resolve()


def _warn_if_exposed(host: str, tls: bool) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        clear = "" if tls else " Without --tls-cert/--tls-key, keys and tokens cross the network in clear text."
        err_console.print(
            f"[yellow]\\[warning][/yellow] binding {host}: anyone who can reach this address and holds the"
            f" credentials in the data dir can use the server; keep credentials.json private.{clear}"
        )


@app.command()
def start(
    data_dir: DataDirOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0: every address, for other machines).")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        Optional[int],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option(help=f"Port to bind \\[default: {DEFAULT_PORT}, or a free port when {DEFAULT_PORT} is taken]."),
    ] = None,
    public_url: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option(
            help="URL other machines reach the server at (a name, a proxy) \\[default: the bound address;"
            " bound to 0.0.0.0, this machine's primary address]."
        ),
    ] = None,
    tls_cert: Annotated[PathOpt, typer.Option(help="PEM certificate (chain): serve HTTPS.")] = None,
    tls_key: Annotated[PathOpt, typer.Option(help="PEM private key of --tls-cert.")] = None,
    foreground: Annotated[bool, typer.Option(help="Serve in this process (containers, debugging).")] = False,
) -> None:
    """Start the server in the background and return once it answers (idempotent)."""
    _warn_if_exposed(host, tls_cert is not None)
    if foreground:

        def serve_here() -> None:
            from hpo.server import runtime_config, serve  # imports uvicorn: only here

            config = runtime_config(
                _dir(data_dir), host, port, public_url=public_url, tls_cert=tls_cert, tls_key=tls_key
            )
            serve(config)

        run(serve_here)
        return

    def work() -> None:
        server, new = local_server.start(
            _dir(data_dir), host, port, public_url=public_url, tls_cert=tls_cert, tls_key=tls_key
        )
        verb = "started" if new else "already running"
        console.print(f"server {verb} at {server.url} (pid {server.pid}, data dir {server.data_dir})")

    run(work)


@app.command()
def stop(data_dir: DataDirOpt = None) -> None:
    """Stop the server of a data directory."""
    stopped = local_server.stop(_dir(data_dir))
    console.print("server stopped" if stopped else "no server running")


@app.command()
def status(
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show whether the server runs, where, and on which data directory."""
    server = local_server.find(_dir(data_dir))
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
def env(
    data_dir: DataDirOpt = None,
    portable: Annotated[
        bool,
        typer.Option(
            help="Only what another machine needs: the addresses and keys, no path on this one"
            " (paste the lines there, or save them to a file and source it)."
        ),
    ] = False,
) -> None:
    """Print ``export CLEARML_...`` lines for ``eval``; starts the server when it is not running.

    Its CLEARML_CONFIG_FILE includes your clearml.conf and turns the SDK's reporting subprocess off.
    """

    def work() -> None:
        server, _ = local_server.start(_dir(data_dir))
        if portable:
            print(f"# the embedded server at {server.url}, for any machine that reaches it")
            if server.tls:
                print("# it serves HTTPS: if its certificate is not from a public CA, also export")
                print("# REQUESTS_CA_BUNDLE (SDK, clearml-agent) and SSL_CERT_FILE (hpo) naming your CA's PEM file")
        values = server.portable_env() if portable else server.env()
        for key, value in values.items():
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

        server, _ = local_server.start(_dir(data_dir))
        link = sign_in_link(server.credentials(), server.url, "/projects")
        print(link)
        if open_browser:
            import webbrowser

            webbrowser.open(link)

    run(work)
