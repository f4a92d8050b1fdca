"""The champion model from code: ``get_best_model`` and what it returns.

Works in any process that reaches the server: the weights were uploaded through the task's
``output_uri``, and are downloaded (and cached by the SDK) on first use, then checked against the
SHA-256 recorded when the model was promoted (a replaced file raises instead of loading).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from hpo.connection import task_web_url
from hpo.errors import ConfigError, NotFoundError
from hpo.promotion import _loaders
from hpo.promotion import _records as records
from hpo.promotion import _weights as weights
from hpo.promotion._loaders import Prediction
from hpo.promotion._records import BEST, CHAMPION, DatasetRef, ModelRecord

log = logging.getLogger(__name__)


@dataclass
class BestModel:
    """A promoted model: its identity, how it scored, and its weights on demand.

    Attributes:
        model_id: ClearML model id.
        task_id: The trial task that trained it.
        metrics: Last reported scalars of that task, ``{"title/series": value}`` (the objective among them).
        objectives: ``[{name, direction, value}]`` it was promoted on.
        params: The trial's searched parameters.
        tags: The model's tags.
        evidence: The promotion gate's evidence (per-fold scores, difference, interval, rule, decision),
            None for a model promoted before the gate existed.
        web_url: The task's page in the configured ClearML web UI (None when it cannot be told).
        weights_sha256: SHA-256 of the weights recorded at promotion (None for a model promoted before).
    """

    model_id: str
    task_id: str
    project_id: str
    template: str
    framework: str
    url: str
    dataset: DatasetRef
    champion: bool
    metrics: dict[str, float]
    objectives: list[dict[str, Any]]
    params: dict[str, Any]
    tags: list[str]
    web_url: str | None
    evidence: dict[str, Any] | None = None
    weights_sha256: str | None = None
    _path: Path | None = field(default=None, repr=False)
    _loaded: Any = field(default=None, repr=False)

    def local_path(self) -> Path:
        """The weights on this machine: the file, or the extracted model folder (downloaded and checked once).

        Raises:
            NotFoundError: They cannot be downloaded.
            HPOError: They are not the weights that were promoted (their SHA-256 differs).
        """
        if self._path is None:
            path = weights.download(self.model_id)
            weights.verify(self.model_id, path, self.weights_sha256)
            self._path = path
        return self._path

    def load(self) -> Any:
        """The framework's object: the unpickled model (scikit-learn and the like), or ``(model, tokenizer)``
        for a Hugging Face model.

        Raises:
            ConfigError: Another framework's files (the message names it; load them from :meth:`local_path`).
        """
        if self._loaded is None:
            path = self.local_path()
            self._loaded = _loaders.load(_loaders.kind_of(self.framework, path), path)
        return self._loaded

    def predict(self, inputs: Any) -> list[Prediction]:
        """The model's own ``predict`` for each input (texts, or the rows of ``X``), with per-label
        probabilities where it has ``predict_proba``."""
        loaded = self.load()
        return _loaders.predict(_loaders.kind_of(self.framework, self.local_path()), loaded, inputs)

    def download(self, folder: str | Path) -> Path:
        """Copy the weights into ``folder`` (created if needed); returns the copied file or folder."""
        source = self.local_path()
        target = Path(folder).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target / "model", dirs_exist_ok=True)
            return target / "model"
        # The SDK's cache prefixes a hash to the file name: keep the name it was uploaded under.
        name = Path(unquote(urlparse(self.url).path)).name or source.name
        return Path(shutil.copy2(source, target / name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "task_id": self.task_id,
            "template": self.template,
            "champion": self.champion,
            "dataset": (
                {"project": self.dataset.project, "name": self.dataset.name, "version": self.dataset.version}
                if self.dataset.known
                else None
            ),
            "objectives": self.objectives,
            "objective_value": self.objectives[0]["value"] if self.objectives else None,
            "metrics": self.metrics,
            "params": self.params,
            "tags": self.tags,
            "framework": self.framework,
            "url": self.url,
            "web_url": self.web_url,
            "evidence": self.evidence,
            "weights_sha256": self.weights_sha256,
        }


def _query(tags: list[str], project: str | None) -> list[ModelRecord]:
    try:
        return records.query(tags, project)
    except ValueError as err:  # the SDK's "No projects found when searching for ..."
        raise NotFoundError(f"no project {project!r} on this server ({err}); pass the project of the template") from err


def _no_champion(template: str | None, project: str | None, version: str | None) -> NotFoundError:
    what = f"template {template!r}" if template else "any template"
    where = f" in project {project!r}" if project else ""
    on = f" on dataset version {version}" if version else ""
    key = template or "tfidf"
    return NotFoundError(
        f"no promoted model for {what}{where}{on} yet; run `hpo search {key}` (it promotes its best model at the"
        " end) or `hpo promote STUDY` for a finished search"
    )


def _best_of(found: list[ModelRecord]) -> ModelRecord:
    """Among promoted models of one dataset version: the best on the objective of the newest promotion."""
    newest = max(found, key=lambda r: float(r.metadata.get("promoted_at") or 0))
    key = [(o["name"], o["direction"]) for o in newest.objectives]
    same = [r for r in found if [(o["name"], o["direction"]) for o in r.objectives] == key]
    sign = -1.0 if key and key[0][1] == "max" else 1.0
    return min(same, key=lambda r: sign * float(r.objectives[0]["value"]) if r.objectives else 0.0)


def find_champion(
    template: str | None, project: str | None, dataset_version: str | None = None, dataset: str | None = None
) -> ModelRecord:
    """The champion of ``template`` (or, for a dataset version it was not trained on, the best model there).

    Raises:
        NotFoundError: Nothing promoted matches.
        ConfigError: Several champions match (different templates or datasets): name one.
    """

    def wanted(r: ModelRecord) -> bool:
        return (template is None or r.template == template) and (dataset is None or r.dataset.name == dataset)

    found = [r for r in _query([CHAMPION], project) if wanted(r)]
    if dataset_version is not None:
        found = [r for r in found if r.dataset.version == dataset_version]
        if not found:
            promoted = [r for r in _query([BEST], project) if wanted(r) and r.dataset.version == dataset_version]
            found = [_best_of(promoted)] if promoted else []
    if not found:
        raise _no_champion(template, project, dataset_version)
    if len(found) > 1:
        choices = sorted({f"template {r.template!r}, dataset {r.dataset.name!r}" for r in found})
        raise ConfigError(f"several champions match ({'; '.join(choices)}); name the template and the dataset")
    return found[0]


def _web_url(project_id: str, task_id: str) -> str | None:
    from clearml.backend_api import Session

    try:
        host = str(Session.get_app_server_host()).rstrip("/")
    except ValueError:  # the SDK cannot tell the web UI of this API host
        return None
    return task_web_url(host, task_id, project_id)


def best_model_of(record: ModelRecord) -> BestModel:
    """A :class:`BestModel` for ``record``, with its task's metrics and web link."""
    from clearml import Task

    task: Any = Task.get_task(task_id=record.task_id)
    metrics = {
        f"{title}/{series}": float(values["last"])
        for title, by_series in (task.get_last_scalar_metrics() or {}).items()
        for series, values in by_series.items()
        if values.get("last") is not None
    }
    return BestModel(
        model_id=record.id,
        task_id=record.task_id,
        project_id=str(task.project or record.project_id),
        template=record.template,
        framework=record.framework,
        url=record.url,
        dataset=record.dataset,
        champion=record.is_champion,
        metrics=metrics,
        objectives=record.objectives,
        params=record.params,
        tags=record.tags,
        web_url=_web_url(str(task.project or record.project_id), record.task_id),
        evidence=record.evidence,
        weights_sha256=record.weights_sha256,
    )


def get_best_model(
    template: str | None = "tfidf",
    project: str | None = None,
    dataset_version: str | None = None,
    *,
    dataset: str | None = None,
    api_host: str | None = None,
) -> BestModel:
    """The champion model of ``template`` in ``project``, from any process that reaches the server.

    Args:
        template: Template key (``tfidf``, ``bert``, or a key of ``hpo template add``); None for whichever
            has a champion.
        project: ClearML project of the models; None (the default) for any project.
        dataset_version: Only a model scored on this dataset version (the champion, else the best
            promoted model on that version).
        dataset: Dataset name, when a template has champions for several datasets.
        api_host: ClearML API server (default: environment, ``clearml.conf``, else the embedded server).

    Raises:
        NotFoundError: No model was promoted yet (the message names the command that promotes one).
        ServerError: The server does not answer.
    """
    from hpo.connection import connect

    connect(api_host)
    return best_model_of(find_champion(template, project, dataset_version, dataset))


__all__ = ["BestModel", "best_model_of", "find_champion", "get_best_model"]
