"""Dataset versions on a ClearML server, through the public ``clearml.Dataset`` API.

A version is registered completely or not at all: the caller validates the table first, and a
dataset whose upload or finalisation fails is deleted again. Its content hash (a tag) makes
registration idempotent: the same name, version and content reuse the existing dataset.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hpo import task_status
from hpo.connection import check_files_server
from hpo.data._table import COLUMNS, GROUP, SPLIT, SPLITS
from hpo.errors import ConfigError, HPOError, NotFoundError

log = logging.getLogger(__name__)

CONTENT_TAG = "hpo-content:"


@dataclass(frozen=True)
class DatasetVersion:
    """One registered version of a dataset.

    Attributes:
        id: The ClearML dataset (task) id.
        reused: True when registration found this version already on the server.
        rows: Rows per split, when the version was registered by the suite.
    """

    id: str
    name: str
    project: str
    version: str
    rows: dict[str, int] = field(default_factory=dict)
    reused: bool = False
    parent: str | None = None

    @property
    def total_rows(self) -> int | None:
        return sum(self.rows.values()) if self.rows else None


def split_files(frame: pd.DataFrame) -> dict[str, bytes]:
    """The CSV files of a split table, byte for byte as they are uploaded."""
    return {
        f"{split}.csv": frame.loc[frame[SPLIT] == split, list(COLUMNS)].to_csv(index=False).encode() for split in SPLITS
    }


def content_hash(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()[:16]


def _content_of(tags: list[str]) -> str | None:
    return next((tag[len(CONTENT_TAG) :] for tag in tags if tag.startswith(CONTENT_TAG)), None)


def _versions(name: str, project: str, only_completed: bool) -> list[dict[str, Any]]:
    from clearml import Dataset

    found = Dataset.list_datasets(
        dataset_project=project, partial_name=f"^{re.escape(name)}$", only_completed=only_completed
    )
    return sorted(
        (d for d in found if d["name"] == name and d["project"] == project), key=lambda d: d["created"], reverse=True
    )


def _existing(name: str, project: str, version: str, content: str) -> DatasetVersion | None:
    """The registered version with this content, None when absent; errors on a conflict."""
    for info in _versions(name, project, only_completed=False):
        if info.get("version") != version:
            continue
        status = str(getattr(info.get("status"), "value", info.get("status")))
        if status not in task_status.DATASET_FINAL:
            raise ConfigError(
                f"dataset {name!r} version {version} in project {project!r} exists but is unfinished"
                f" (status {status}, id {info['id']}); delete it (`clearml-data delete --id {info['id']}`)"
                " or register another --version"
            )
        existing = _content_of(list(info.get("tags") or []))
        if existing != content:
            raise ConfigError(
                f"dataset {name!r} version {version} in project {project!r} already exists with other content"
                f" (id {info['id']}); register the new data under another --version"
            )
        rows = _rows_of([info["id"]]).get(info["id"], {})
        return DatasetVersion(info["id"], name, project, version, rows=rows, reused=True)
    return None


def _delete_unfinished(name: str, project: str, version: str, content: str) -> None:
    from clearml import Dataset

    for info in _versions(name, project, only_completed=False):
        status = str(getattr(info.get("status"), "value", info.get("status")))
        if info.get("version") == version and _content_of(list(info.get("tags") or [])) == content:
            if status not in task_status.DATASET_FINAL:
                log.warning("deleting the unfinished dataset %s (%s %s)", info["id"], name, version)
                Dataset.delete(dataset_id=info["id"], force=True)


def register(
    frame: pd.DataFrame,
    name: str,
    project: str,
    version: str,
    metadata: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> DatasetVersion:
    """Register a split table as a dataset version, or reuse the identical one.

    The newest other version of the same dataset becomes the parent.

    Args:
        frame: A validated table with ``text``, ``label``, ``group`` and ``split`` columns.
        metadata: Stored as the dataset's metadata (with the row counts added).

    Raises:
        ConfigError: The version exists with other content, or unfinished.
        HPOError: Upload or finalisation failed (the partial dataset has been deleted).
    """
    from clearml import Dataset, Task

    files = split_files(frame)
    content = content_hash(files)
    reused = _existing(name, project, version, content)
    if reused is not None:
        return reused
    parents = [d["id"] for d in _versions(name, project, only_completed=True)][:1]
    rows = {split: int((frame[SPLIT] == split).sum()) for split in SPLITS}
    meta = {**(metadata or {}), "rows": rows, "content_hash": content, "columns": list(COLUMNS)}
    check_files_server()
    try:
        dataset = Dataset.create(
            dataset_name=name,
            dataset_project=project,
            dataset_version=version,
            dataset_tags=[CONTENT_TAG + content],
            parent_datasets=parents or None,
            description=description,
        )
    except Exception as err:  # create() already made the task when its first upload fails
        _delete_unfinished(name, project, version, content)
        raise HPOError(f"creating dataset {name!r} version {version} failed: {err}") from err
    try:
        with tempfile.TemporaryDirectory(prefix="hpo-data-") as tmp:
            for file_name, data in files.items():
                (Path(tmp) / file_name).write_bytes(data)
            dataset.add_files(tmp)
            dataset.upload(show_progress=False)
            # Row counts as user properties of the dataset's task: cheap to list, unlike the metadata artifact.
            Task.get_task(task_id=dataset.id).set_user_properties(
                **{f"rows_{split}": count for split, count in rows.items()}
            )
            dataset.set_metadata(meta, ui_visible=False)
            dataset.finalize(raise_on_error=True)
    except Exception as err:  # any failure must leave nothing half-registered
        log.warning("registering %s %s failed; deleting dataset %s", name, version, dataset.id)
        Dataset.delete(dataset_id=dataset.id, force=True)
        raise HPOError(f"registering dataset {name!r} version {version} failed: {err}") from err
    return DatasetVersion(dataset.id, name, project, version, rows=rows, parent=parents[0] if parents else None)


def _rows_of(ids: list[str]) -> dict[str, dict[str, int]]:
    """Rows per split of each dataset id, from the user properties the suite set (empty when absent)."""
    from clearml import Task

    tasks: list[Task] = Task.get_tasks(task_ids=ids)
    rows: dict[str, dict[str, int]] = {}
    for task in tasks:
        properties = task.get_user_properties(value_only=True)
        rows[task.id] = {
            split: int(str(properties[f"rows_{split}"]))
            for split in SPLITS
            if properties.get(f"rows_{split}") not in (None, "")
        }
    return rows


def list_versions(project: str | None = None, name: str | None = None) -> list[DatasetVersion]:
    """Completed dataset versions, newest first, with row counts where the suite registered them."""
    from clearml import Dataset

    pattern = f"^{re.escape(name)}$" if name else None
    found = Dataset.list_datasets(dataset_project=project, partial_name=pattern, only_completed=True)
    if not found:
        return []
    rows = _rows_of([d["id"] for d in found])
    return [
        DatasetVersion(d["id"], d["name"], d["project"], str(d.get("version") or ""), rows.get(d["id"], {}))
        for d in sorted(found, key=lambda d: d["created"], reverse=True)
    ]


def count_groups(name: str, project: str, version: str, splits: tuple[str, ...] = ("train", "validation")) -> int:
    """Distinct groups in ``splits`` of a dataset version (empty ``version``: the newest).

    Raises:
        NotFoundError: No such completed version, or it lacks a split file.
    """
    from clearml import Dataset

    try:
        dataset = Dataset.get(
            dataset_name=name, dataset_project=project, dataset_version=version or None, only_completed=True
        )
        folder = Path(dataset.get_local_copy())
    except ValueError as err:  # what Dataset.get raises for a version that is not there
        raise NotFoundError(
            f"dataset {name!r} version {version or '(newest)'} in project {project!r} is not on this server ({err});"
            " list them with `hpo data list`"
        ) from err
    groups: set[str] = set()
    for split in splits:
        path = folder / f"{split}.csv"
        if not path.is_file():
            raise NotFoundError(f"dataset {name!r} version {version}: no {path.name}; register it with `hpo data add`")
        column = pd.read_csv(path, usecols=[GROUP], dtype=str, keep_default_na=False)[GROUP]
        groups.update(column)
    return len(groups)


__all__ = ["DatasetVersion", "content_hash", "count_groups", "list_versions", "register", "split_files"]
