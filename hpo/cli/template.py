"""``hpo template add|list``: a user's run or script as a template, by hand (a space can do it too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from hpo.cli._common import ApiHostOpt, JsonOpt, console, run, sdk_output_to_stderr

app = typer.Typer(help="Templates: a user's run or script made searchable (`hpo register` for the shipped ones).")


def _row(template: object) -> dict[str, object]:
    return {k: getattr(template, k) for k in ("key", "id", "version", "project", "name", "source", "created_now")}


@app.command("add")
def add(
    target: Annotated[str, typer.Argument(help="A run's task id, or a script (run once to record its arguments).")],
    key: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option("--key", help="The template key \\[default: a slug of the run's name or the script's file name]."),
    ] = None,
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a run or a script as a template: a parent-less draft copy, made once; the run is not modified."""

    def work() -> None:
        from hpo.connection import connect
        from hpo.templates._user import register_run, register_script

        with sdk_output_to_stderr(), console.status(f"registering {target}"):
            connect(api_host)
            is_script = target.endswith(".py") or Path(target).exists()
            template = register_script(Path(target).resolve(), key) if is_script else register_run(target, key)
        if as_json:
            console.print_json(json.dumps(_row(template)))
            return
        state = "registered" if template.created_now else "existing"
        console.print(f"template {template.key!r} ({state}): task {template.id}, a copy of run {template.source}")
        console.print(
            f"use it in a space as `template: {template.key}`, or write one: hpo space init --task {template.source}"
        )

    run(work)


@app.command("list")
def list_(api_host: ApiHostOpt = None, as_json: JsonOpt = False) -> None:
    """List the registered templates, newest first (shipped ones and users' runs)."""

    def work() -> None:
        from hpo.connection import connect
        from hpo.templates._user import find_copies

        with sdk_output_to_stderr():
            connect(api_host)
            templates = find_copies()
        if as_json:
            console.print_json(json.dumps([_row(t) for t in templates]))
            return
        table = Table()
        table.add_column("template", no_wrap=True)  # the key a space names: never cut
        table.add_column("name")
        table.add_column("version", no_wrap=True)
        table.add_column("id", overflow="fold")
        table.add_column("copy of run", overflow="fold")
        for t in templates:
            table.add_row(t.key, t.name, t.version, t.id, t.source or "(shipped)")
        console.print(table)

    run(work)
