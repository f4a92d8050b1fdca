"""Promotion marks on ClearML models: tags and metadata, read and written through the public SDK.

Tags (what ``Model.query_models(tags=...)`` and clearml-serving's ``--tags`` select on)::

    best           the best model of at least one search (it keeps the tag)
    study:<name>   the search (or searches) it was the best of
    champion       THE model of its template and dataset: exactly one per (template, dataset)

Metadata (strings, as ClearML stores them; JSON for structured values)::

    objective, objective_direction, objective_value   the first objective (name title/series)
    objectives      JSON [{name, direction, value}] of every objective
    params          JSON of the trial's parameters
    dataset_project, dataset_name, dataset_version   empty when the run read no dataset
    template, study, task_id, trial
    weights_sha256  SHA-256 of the weights when promoted (hpo.promotion._weights.digest); checked on download
    evidence        JSON of the promotion gate's evidence (hpo.promotion._judge.Evidence): per-fold
                    scores of the candidates and the champion, differences, intervals, rule, decision
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

BEST, CHAMPION, STUDY_PREFIX = "best", "champion", "study:"
EVIDENCE = "evidence"
WEIGHTS_SHA256 = "weights_sha256"


@dataclass(frozen=True)
class DatasetRef:
    """The dataset a trial trained on (version resolved, never empty)."""

    project: str
    name: str
    version: str

    @property
    def known(self) -> bool:
        """Whether the run read a dataset at all (a user's script may read none)."""
        return bool(self.project or self.name)


@dataclass
class ModelRecord:
    """A model with its promotion marks, as the server has them when read."""

    id: str
    task_id: str
    project_id: str
    name: str
    framework: str
    url: str
    published: bool
    tags: list[str]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def template(self) -> str:
        return self.metadata.get("template", "")

    @property
    def dataset(self) -> DatasetRef:
        m = self.metadata
        return DatasetRef(m.get("dataset_project", ""), m.get("dataset_name", ""), m.get("dataset_version", ""))

    @property
    def objectives(self) -> list[dict[str, Any]]:
        """``[{name, direction, value}]`` (empty when the model was never promoted)."""
        raw = self.metadata.get("objectives")
        return list(json.loads(raw)) if raw else []

    @property
    def params(self) -> dict[str, Any]:
        raw = self.metadata.get("params")
        return dict(json.loads(raw)) if raw else {}

    @property
    def evidence(self) -> dict[str, Any] | None:
        """The promotion gate's evidence (None when promoted before the gate existed)."""
        raw = self.metadata.get(EVIDENCE)
        return dict(json.loads(raw)) if raw else None

    @property
    def weights_sha256(self) -> str | None:
        """SHA-256 of the weights recorded when promoted (None when promoted before hashes were recorded)."""
        return self.metadata.get(WEIGHTS_SHA256) or None

    @property
    def is_champion(self) -> bool:
        return CHAMPION in self.tags


def champion_key(template: str, dataset: DatasetRef) -> str:
    """What exactly one champion exists for (the lock's key, too)."""
    return f"{template}|{dataset.project}|{dataset.name}"


def read_model(model_id: str) -> ModelRecord:
    """The model ``model_id`` as the server has it now."""
    from clearml import Model

    model = Model(model_id=model_id)
    metadata = {
        k: str(v.get("value")) for k, v in (model.get_all_metadata() or {}).items() if v.get("value") is not None
    }
    return ModelRecord(
        id=str(model.id),
        task_id=str(model.task or ""),
        project_id=str(model.project or ""),
        name=str(model.name or ""),
        framework=str(model.framework or ""),
        url=str(model.url or ""),
        published=bool(model.published),
        tags=list(model.tags or []),
        metadata=metadata,
    )


def query(tags: Sequence[str], project: str | None = None) -> list[ModelRecord]:
    """Unarchived models carrying every tag in ``tags`` (in ``project`` when given), newest first."""
    from clearml import Model

    found = Model.query_models(project_name=project, tags=["__$all", *tags])
    return [read_model(str(m.id)) for m in found]


def champions(template: str, dataset: DatasetRef) -> list[ModelRecord]:
    """Every model tagged ``champion`` for ``template`` and ``dataset``'s name (normally one)."""
    return [
        r
        for r in query([CHAMPION])
        if r.template == template and (r.dataset.project, r.dataset.name) == (dataset.project, dataset.name)
    ]


def set_tags(model_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[str]:
    """Add and remove tags on a model, keeping every other tag (ClearML replaces the whole list)."""
    from clearml.backend_api.session.client import APIClient

    client = APIClient()
    current = list(client.models.get_by_id(model=model_id).tags or [])
    tags = [t for t in current if t not in remove] + [t for t in add if t not in current]
    if tags != current:
        # models.update, not the SDK's Model.tags setter: that one cannot clear the list (it sends the old
        # tags when given []) and re-sends every other field. update also works on a published model.
        client.models.update(model=model_id, tags=tags)
    return tags


def write_metadata(model_id: str, values: dict[str, str]) -> None:
    """Add or update metadata entries (others are kept)."""
    from clearml import Model

    Model(model_id=model_id).set_all_metadata(
        {k: {"value": v, "type": "str"} for k, v in values.items()}, replace=False
    )


def publish(record: ModelRecord) -> None:
    """Publish the model and the task that made it (each only when it is not yet published)."""
    from clearml import Model, Task

    task: Any = Task.get_task(task_id=record.task_id)
    if task.get_status() != "published":
        task.publish()
    model = Model(model_id=record.id)
    if not model.published:
        model.publish()


def dataset_of(task_id: str) -> DatasetRef:
    """The dataset a trial task read: its ``General/dataset_*`` arguments, an empty version resolved.

    Without those arguments, the one ClearML dataset the SDK recorded it reading (``Datasets/<alias>``,
    by id), else none: all fields empty.
    """
    from clearml import Dataset, Task

    task: Any = Task.get_task(task_id=task_id)
    params: dict[str, Any] = task.get_parameters() or {}
    project = str(params.get("General/dataset_project") or "")
    name = str(params.get("General/dataset_name") or "")
    version = str(params.get("General/dataset_version") or "")
    used = [str(v) for k, v in params.items() if k.startswith("Datasets/") and v]
    if not (project or name):
        if len(used) != 1:
            return DatasetRef("", "", "")
        found: Any = Dataset.get(dataset_id=used[0])
        return DatasetRef(str(found.project or ""), str(found.name or ""), str(found.version or ""))
    if not version:
        # An empty version reads the newest; the SDK records the id it read under Datasets/<alias>.
        read = params.get("Datasets/dataset")
        version = str(Dataset.get(dataset_id=str(read)).version) if read else "latest"
    return DatasetRef(project, name, version)


def output_model(task_id: str) -> str | None:
    """The id of the last output model of task ``task_id``."""
    from clearml import Task

    task: Any = Task.get_task(task_id=task_id)
    models: list[Any] = task.models.get("output") or []
    return str(models[-1].id) if models else None


def output_destination(task_id: str) -> str | None:
    """Where task ``task_id`` uploads its models and artifacts (its ``output_uri``), if anywhere."""
    from clearml import Task

    task: Any = Task.get_task(task_id=task_id)
    output = task.data.output  # not Task.output_uri: outside the task's own run that reads None
    return str(getattr(output, "destination", None) or "") or None


__all__ = [
    "BEST",
    "CHAMPION",
    "EVIDENCE",
    "STUDY_PREFIX",
    "WEIGHTS_SHA256",
    "DatasetRef",
    "ModelRecord",
    "champion_key",
    "champions",
    "dataset_of",
    "output_destination",
    "output_model",
    "publish",
    "query",
    "read_model",
    "set_tags",
    "write_metadata",
]
