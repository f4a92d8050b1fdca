"""``hpo register``: register the shipped base tasks once on the server as templates (users' runs: ``hpo template``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from hpo.cli._common import ApiHostOpt, JsonOpt, console, run, sdk_output_to_stderr
from hpo.templates import CATALOG, PLANNED, Template, spec_for
from hpo.templates import register as register_template


def _keys(which: str) -> list[str]:
    if which == "all":
        return list(CATALOG)
    spec_for(which)  # raises the user-facing error for unknown or planned keys
    return [which]


def register(
    which: Annotated[str, typer.Argument(help=f"Which base task: {', '.join([*CATALOG, *PLANNED])} or all.")] = "all",
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register the shipped base tasks as templates (once; a changed base task registers a new version).

    For your own run or script: `hpo template add RUN_ID|SCRIPT`, or `hpo space init`.
    """

    def work() -> None:
        from hpo.connection import connect

        keys = _keys(which)
        templates: list[Template] = []
        with sdk_output_to_stderr(), console.status("registering templates"):
            connect(api_host)
            for key in keys:
                templates.append(register_template(key))
        if as_json:
            rows = [{"key": t.key, "id": t.id, "version": t.version, "created": t.created_now} for t in templates]
            console.print_json(json.dumps(rows))
            return
        table = Table("template", "version", "project", "name", "status")
        table.add_column("id", no_wrap=True)
        for t in templates:
            table.add_row(t.key, t.version, t.project, t.name, "registered" if t.created_now else "existing", t.id)
        console.print(table)

    run(work)
