"""``hpo space init``: write a search space from a run (or a script, run once) that runs as written."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from hpo.cli._common import ApiHostOpt, err_console, run, sdk_output_to_stderr
from hpo.errors import ConfigError

app = typer.Typer(help="Search spaces: write one from a run of your own script.")


@app.command("init")
def init(
    task: Annotated[Optional[str], typer.Option("--task", help="A run's task id.")] = None,  # noqa: UP045
    script: Annotated[
        Optional[Path],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option("--script", help="A training script: run once to record its arguments and metrics."),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="Write the space here \\[default: print it]."),
    ] = None,
    key: Annotated[Optional[str], typer.Option("--key", help="The template key \\[default: from the name].")] = None,  # noqa: UP045
    api_host: ApiHostOpt = None,
) -> None:
    """Write a commented search space from a run: every argument, the metrics it reported, the template."""

    def work() -> None:
        if (task is None) == (script is None):
            raise ConfigError("hpo space init: pass one of --task ID or --script PATH")
        text = _write(task, script, output, key, api_host)
        if output is None:
            sys.stdout.write(text)  # raw: rich would wrap long comment lines into invalid YAML
            sys.stdout.flush()
            return
        output.write_text(text)
        err_console.print(f"wrote {escape(str(output))}; search it with: hpo search {escape(str(output))}")

    run(work)


def _write(task: str | None, script: Path | None, output: Path | None, key: str | None, api_host: str | None) -> str:
    from hpo.connection import connect
    from hpo.search._space_init import space_yaml
    from hpo.templates._introspect import read_run
    from hpo.templates._source import slug
    from hpo.templates._user import register_script, require_parameters

    with sdk_output_to_stderr(), err_console.status("reading the run"):
        connect(api_host)
        if script is not None:
            template = register_script(script.resolve(), key)  # runs it once unless its copy exists
            info = read_run(template.source)
            folder = (output.parent if output else Path.cwd()).resolve()
            reference = {"script": os.path.relpath(script.resolve(), folder), "key": template.key}
        else:
            assert task is not None
            info = read_run(task)
            require_parameters(info)
            reference = {"task": info.id, "key": key or slug(info.name)}
    return space_yaml(info, reference)
