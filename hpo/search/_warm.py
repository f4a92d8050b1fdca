"""``--warm-start PROJECT[/TAG]``: earlier ClearML tasks of the same template as the study's first trials.

Completed tasks of ``PROJECT`` (tagged ``TAG``, when given) are added to a search's study as
finished trials (``optuna.trial.create_trial`` + ``study.add_trial``) before anything is sampled,
so the sampler starts informed. A task is taken when it ran the search's template:

- the same script: the basename of ``script.entry_point`` equals the template's, and
- the template's task name (a run by hand: ``python base_tasks/tfidf.py``), or the tag
  ``from-template:<key>`` (a trial of an earlier search) or ``template:<key>`` (another clone);

and its configuration lies in the space, so its objective value means what a trial's would:

- every searched parameter (that its ``when:`` conditions make active) is present and inside its
  range, on its step, or among its choices;
- every other argument of the template (the dataset's project, name and version among them)
  equals this search's value: the space's ``fixed`` value, else the template's default;
- it reported every objective (its value read as a trial's is: the last, min or max report).

A task that fails one of these is skipped with the reason, never guessed. Warm-start trials carry
``state: warm-start`` and ``warm_start_task_id`` (and no ``task_id``: the budget counts only what
the search launches; promotion picks among the search's own trials). Tasks already in the study
(a resumed search) are not added twice. Talks to ClearML only through the public SDK.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import optuna

from hpo.errors import ConfigError, NotFoundError
from hpo.search._param import same_text
from hpo.search._sampling import active, as_override
from hpo.search._space import SearchSpace
from hpo.search._trials import TaskState, _plain
from hpo.study import StudyAttr, TrialAttr, TrialLabel
from hpo.templates import TRIAL_OF_PREFIX

log = logging.getLogger(__name__)

_FIELDS = ["name", "tags", "parent", "script", "hyperparams", "last_metrics", "status", "completed"]
_SHOWN_SKIPS = 10  # skipped tasks named in the message; all are in the study attribute


@dataclass(frozen=True)
class TemplateInfo:
    """What a task must share with the template to be one of its runs."""

    key: str
    name: str
    entry_point: str
    params: dict[str, str]  # the template's arguments and their defaults, as ClearML stores them


@dataclass(frozen=True)
class WarmTrial:
    """A task taken as a trial."""

    task_id: str
    params: dict[str, Any]
    values: list[float]
    se: float | None = None


@dataclass(frozen=True)
class Skipped:
    """A task of the template that was not taken, and why."""

    task_id: str
    name: str
    why: str


@dataclass
class WarmStart:
    """What ``--warm-start`` found in its source."""

    source: str
    project: str
    tag: str | None
    tasks: int = 0  # completed tasks in the source
    of_template: int = 0
    trials: list[WarmTrial] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    already: int = 0  # tasks the study holds already (resumed)

    @property
    def where(self) -> str:
        return f"project {self.project!r}" + (f" with tag {self.tag!r}" if self.tag else "")

    def message(self, template: str) -> str:
        """One line for the terminal."""
        if not self.trials and not self.skipped:
            held = f" ({self.already} already in the study)" if self.already else ""
            return f"warm start: no completed task of template {template!r} in {self.where}{held}; searching cold"
        text = f"warm start: {len(self.trials)} trial(s) from {self.where}"
        if self.skipped:
            shown = "; ".join(f"{s.task_id} ({s.why})" for s in self.skipped[:_SHOWN_SKIPS])
            more = f"; and {len(self.skipped) - _SHOWN_SKIPS} more" if len(self.skipped) > _SHOWN_SKIPS else ""
            text += f"; skipped {len(self.skipped)}: {shown}{more}"
        return text

    def as_attr(self, template: str) -> dict[str, Any]:
        return {
            "source": self.source,
            "project": self.project,
            "tag": self.tag,
            "tasks": self.tasks,
            "of_template": self.of_template,
            "added": [t.task_id for t in self.trials],
            "skipped": [{"task_id": s.task_id, "name": s.name, "why": s.why} for s in self.skipped],
            "message": self.message(template),
        }


def split_source(source: str, project_exists: Any) -> tuple[str, str | None]:
    """``PROJECT[/TAG]`` as (project, tag): the whole string when it names a project (ClearML
    sub-projects have slashes), else the part before the last ``/`` with the rest as the tag.

    Raises:
        NotFoundError: Neither names a project.
    """
    source = source.strip()
    if not source:
        raise ConfigError("--warm-start is empty; pass PROJECT or PROJECT/TAG")
    if project_exists(source):
        return source, None
    head, _, tag = source.rpartition("/")
    if head and tag and project_exists(head):
        return head, tag
    also = f" (nor project {head!r} with tag {tag!r})" if head and tag else ""
    raise NotFoundError(
        f"--warm-start {source!r}: no ClearML project {source!r}{also}; name an existing project"
        " (the project of your earlier runs, as the web UI shows it), optionally /TAG"
    )


def find_warm_start(source: str, space: SearchSpace, template_id: str, template_params: dict[str, Any]) -> WarmStart:
    """The tasks of ``source`` to add to the search's study (the SDK must point at the server).

    Raises:
        NotFoundError: The source names no project.
    """
    from clearml import Task

    project, tag = split_source(source, lambda name: Task.get_project_id(name) is not None)
    template = _template_info(space, template_id, template_params)
    task_filter: dict[str, Any] = {"status": ["completed", "published"]}
    if tag:
        task_filter["tags"] = [tag]
    found = Task.query_tasks(project_name=project, task_filter=task_filter, additional_return_fields=_FIELDS)
    rows = sorted((_plain(r) for r in found), key=lambda r: str(r.get("completed") or ""))  # oldest first
    warm = WarmStart(source, project, tag, tasks=len(rows))
    for row in rows:
        if not is_template_run(row, template):
            continue
        warm.of_template += 1
        taken = to_trial(row, space, template)
        (warm.trials if isinstance(taken, WarmTrial) else warm.skipped).append(taken)  # type: ignore[arg-type]
    return warm


def add_warm_start(study: optuna.Study, space: SearchSpace, warm: WarmStart) -> int:
    """Add ``warm``'s trials to ``study`` (those it holds already are left); returns how many were added."""
    held = _task_ids(study)
    grid = space.sampler.name == "grid"
    added = 0
    for item in list(warm.trials):
        if item.task_id in held:
            warm.trials.remove(item)
            warm.already += 1
            continue
        attrs: dict[str, Any] = {TrialAttr.STATE: TrialLabel.WARM_START, TrialAttr.WARM_START_TASK_ID: item.task_id}
        if item.se is not None:
            attrs[TrialAttr.OBJECTIVE_SE] = item.se
        dists = {name: space.param(name).distribution(grid) for name in item.params}
        try:
            trial = optuna.trial.create_trial(
                params=item.params, distributions=dists, values=item.values, user_attrs=attrs
            )
        except ValueError as err:  # a value the distribution refuses: skipped, as any out-of-space task
            warm.trials.remove(item)
            warm.skipped.append(Skipped(item.task_id, "", f"refused by Optuna: {err}"))
            continue
        study.add_trial(trial)
        added += 1
    study.set_user_attr(StudyAttr.WARM_START, warm.as_attr(space.template))
    message = warm.message(space.template)
    if warm.skipped or not warm.trials:
        log.warning("%s", message)
    else:
        log.info("%s", message)
    return added


def _task_ids(study: optuna.Study) -> set[str]:
    ids: set[str] = set()
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        ids.update(str(attrs[k]) for k in (TrialAttr.TASK_ID, TrialAttr.WARM_START_TASK_ID) if attrs.get(k))
        ids.update(str(i) for i in attrs.get(TrialAttr.FAILED_TASK_IDS) or [])
    return ids


def _template_info(space: SearchSpace, template_id: str, template_params: dict[str, Any]) -> TemplateInfo:
    from clearml import Task

    [row] = [_plain(r) for r in Task.query_tasks(task_filter={"id": [template_id]}, additional_return_fields=_FIELDS)]
    entry = str((row.get("script") or {}).get("entry_point") or "")
    params = {k: str(v) for k, v in template_params.items() if not k.startswith("Datasets/")}
    return TemplateInfo(space.template, str(row.get("name") or ""), entry, params)


def _entry(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).name


def is_template_run(row: dict[str, Any], template: TemplateInfo) -> bool:
    """Whether task ``row`` (a ``tasks.get_all`` row) ran the template (see the module docstring)."""
    entry = _entry(str((row.get("script") or {}).get("entry_point") or ""))
    if not entry or entry != _entry(template.entry_point):
        return False
    tags = row.get("tags") or []
    lineage = {f"{TRIAL_OF_PREFIX}{template.key}", f"template:{template.key}"}  # a search's trial, a hand clone
    return str(row.get("name") or "") == template.name or not lineage.isdisjoint(tags)


def task_params(row: dict[str, Any]) -> dict[str, str]:
    """A task's parameters as ``{"Section/name": value}`` (strings, as ClearML stores them)."""
    out = {}
    for section, items in (row.get("hyperparams") or {}).items():
        for name, item in (items or {}).items():
            value = item.get("value") if isinstance(item, dict) else item
            out[f"{section}/{name}"] = "" if value is None else str(value)
    return out


def to_trial(row: dict[str, Any], space: SearchSpace, template: TemplateInfo) -> WarmTrial | Skipped:
    """Task ``row`` as a trial of ``space``, or why it cannot be one."""
    task_id, name = str(row["id"]), str(row.get("name") or "")
    have = task_params(row)
    chosen: dict[str, Any] = {}
    for param in space.params:
        if not active(param, chosen):
            continue
        if param.name not in have:
            return Skipped(task_id, name, f"no {param.name}")
        value, problem = param.parse(have[param.name])
        if problem:
            return Skipped(task_id, name, f"{param.name}={have[param.name]!r} {problem}")
        chosen[param.name] = value
    searched = {p.name for p in space.params}
    expected = {**template.params, **as_override(space.fixed)}
    for key, want in expected.items():
        if key in searched:
            continue
        got = have.get(key)
        if got is None:
            return Skipped(task_id, name, f"no {key} (the template has it: another version of the script?)")
        if not same_text(got, want):
            role = "fixes" if key in space.fixed else "leaves at the template's default"
            return Skipped(task_id, name, f"{key}={got!r}, the search {role} {want!r}")
    state = TaskState(task_id, str(row.get("status") or ""), "", "", 0, row.get("last_metrics") or {})
    values = [state.objective_value(o) for o in space.objectives]
    if any(v is None for v in values):
        missing = ", ".join(o.name for o, v in zip(space.objectives, values, strict=True) if v is None)
        return Skipped(task_id, name, f"reported no {missing}")
    se = state.last_value(space.objective.title, f"{space.objective.series}_se")
    return WarmTrial(task_id, chosen, [float(v) for v in values if v is not None], se)


__all__ = [
    "Skipped",
    "TemplateInfo",
    "WarmStart",
    "WarmTrial",
    "add_warm_start",
    "find_warm_start",
    "is_template_run",
    "split_source",
    "task_params",
    "to_trial",
]
