"""Turning a source (a user's file, the demo data) into a registered dataset version."""

from __future__ import annotations

from pathlib import Path

from hpo.data import _demo
from hpo.data._split import DEFAULT_SEED, group_split
from hpo.data._table import SPLIT, Columns, normalise, read_table
from hpo.data._versions import DatasetVersion, register
from hpo.errors import ConfigError
from hpo.paths import hpo_home


def add_file(
    path: Path, name: str, project: str, version: str, columns: Columns | None = None, seed: int = DEFAULT_SEED
) -> DatasetVersion:
    """Register a CSV/TSV/Parquet file as a version of dataset ``name`` in ``project``.

    The rows are split by group (seeded) unless the file has a ``split`` column. Everything is
    checked before anything is created on the server.

    Raises:
        ConfigError: The file or the version cannot be used (the message names the fix).
    """
    if not version.strip():
        raise ConfigError("--version is empty; pass a version such as 1.0.0")
    table = normalise(read_table(path), columns or Columns(), str(path))
    given = SPLIT in table.columns
    metadata: dict[str, object] = {"source": path.name, "split": "given in the file" if given else "by group"}
    if not given:
        table = group_split(table, seed)
        metadata["seed"] = seed
    return register(table, name, project, version, metadata, description=f"{name} {version} from {path.name}")


def add_demo(cache_dir: Path | None = None, seed: int = DEFAULT_SEED) -> DatasetVersion:
    """Register the demo Amazon reviews (see ``hpo.data._demo``), or reuse the registered version."""
    sdist = _demo.fetch_sdist(cache_dir or hpo_home() / "cache" / "demo")
    table = group_split(_demo.parse_snippets(sdist), seed)
    metadata = {
        "source": _demo.SOURCE,
        "sdist_sha256": _demo.SDIST_SHA256,
        "labels": "mean rating >= 0.5 positive, <= -0.5 negative, neutral dropped",
        "split": "by review (group)",
        "seed": seed,
    }
    return register(table, _demo.NAME, _demo.PROJECT, _demo.VERSION, metadata, description=_demo.SOURCE)


__all__ = ["add_demo", "add_file"]
