"""``hpo data``: dataset versions for the base tasks (demo data, your own files, listing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from hpo.cli._common import ApiHostOpt, JsonOpt, console, run, sdk_output_to_stderr

if TYPE_CHECKING:  # hpo.data needs pandas: imported by the commands, so `hpo --help` stays fast
    from hpo.data import DatasetVersion

app = typer.Typer(help="Register and list dataset versions (ClearML Datasets).", no_args_is_help=True)

SeedOpt = Annotated[
    Optional[int],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option(help="Seed of the train/validation/test split \\[default: hpo.data.DEFAULT_SEED]."),
]


def _seed(seed: int | None) -> int:
    from hpo.data import DEFAULT_SEED

    return DEFAULT_SEED if seed is None else seed


def _as_dict(version: DatasetVersion) -> dict[str, object]:
    return {
        "id": version.id,
        "name": version.name,
        "project": version.project,
        "version": version.version,
        "rows": version.rows,
        "reused": version.reused,
        "parent": version.parent,
    }


def _report(version: DatasetVersion, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(_as_dict(version)))
        return
    verb = "already registered" if version.reused else "registered"
    rows = ", ".join(f"{split} {count}" for split, count in version.rows.items())
    parent = f", parent {version.parent}" if version.parent else ""
    console.print(
        f"{verb}: {version.name!r} {version.version} in {version.project!r} (id {version.id}"
        f"{', rows ' + rows if rows else ''}{parent})"
    )


@app.command()
def demo(api_host: ApiHostOpt = None, seed: SeedOpt = None, as_json: JsonOpt = False) -> None:
    """Register the Amazon review sentences (Hu & Liu 2004, via VADER) as "Amazon reviews dataset" 1.0.0."""

    def work() -> None:
        from hpo.connection import connect
        from hpo.data import add_demo

        with sdk_output_to_stderr(), console.status("fetching and registering the demo data"):
            connect(api_host)
            version = add_demo(seed=_seed(seed))
        _report(version, as_json)

    run(work)


@app.command()
def add(
    file: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file; a 'split' column keeps your split.")],
    name: Annotated[str, typer.Option(help="Dataset name.")],
    project: Annotated[str, typer.Option(help="ClearML project of the dataset.")],
    version: Annotated[str, typer.Option(help="Version to register, e.g. 1.0.1.")],
    text_col: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    label_col: Annotated[str, typer.Option(help="Column holding the class label.")] = "label",
    group_col: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option(help="Column whose rows must share a split (e.g. a review id) \\[default: none]."),
    ] = None,
    api_host: ApiHostOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register your own file as a dataset version (the newest existing version becomes its parent)."""

    def work() -> None:
        from hpo.connection import connect
        from hpo.data import Columns, add_file

        columns = Columns(text=text_col, label=label_col, group=group_col)
        with sdk_output_to_stderr(), console.status(f"registering {name} {version}"):
            connect(api_host)
            registered = add_file(file, name, project, version, columns, _seed(seed))
        _report(registered, as_json)

    run(work)


@app.command("list")
def list_(
    project: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option(help="Only datasets of this project."),
    ] = None,
    name: Annotated[Optional[str], typer.Option(help="Only this dataset.")] = None,  # noqa: UP045
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show dataset names, versions and row counts."""

    def work() -> None:
        from hpo.cli._format import short_id
        from hpo.connection import connect
        from hpo.data import list_versions

        with sdk_output_to_stderr():
            connect(api_host)
            versions = list_versions(project, name)
        if as_json:
            console.print_json(json.dumps([_as_dict(v) for v in versions]))
            return
        table = Table("project", "name", "version", "rows (train/validation/test)")
        table.add_column("id", no_wrap=True)
        for v in versions:
            rows = f"{v.total_rows} ({'/'.join(str(n) for n in v.rows.values())})" if v.rows else "-"
            table.add_row(v.project, v.name, v.version, rows, short_id(v.id))  # whole in --json
        console.print(table if versions else "no datasets")

    run(work)
