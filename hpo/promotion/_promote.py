"""``hpo promote``: mark a search's best model and apply the champion rule.

The champion rule, per template and dataset (project and name): exactly one model carries
``champion``. A new best takes it when there is none, when ``force`` is set, or when it beats
the champion on the same objectives and the same dataset version (strictly better on a single
objective; Pareto-dominating it on several). Otherwise it stays a challenger and the result says
why. The previous champion loses only the ``champion`` tag.

Concurrency: the whole promotion runs under a :class:`~hpo.promotion._lock.ServerLock` keyed by
template and dataset. Under it the new champion is tagged *before* the old one is untagged (so
there is never none), and the champions are then re-read and repaired to exactly the one chosen
(so a broken lease cannot leave two).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna

from hpo.errors import NotFoundError
from hpo.promotion import _records as records
from hpo.promotion._lock import ServerLock
from hpo.promotion._records import BEST, CHAMPION, STUDY_PREFIX, DatasetRef, ModelRecord
from hpo.promotion._select import Candidate, choose, completed_in_study
from hpo.study import Objective, StudyAttr, TrialAttr, load, objectives_of

log = logging.getLogger(__name__)


@dataclass
class Promotion:
    """What one promotion did."""

    study: str
    template: str
    model_id: str
    task_id: str
    trial: int
    objectives: list[dict[str, Any]]
    params: dict[str, Any]
    dataset: DatasetRef
    champion: bool
    reason: str
    previous_champion: str | None = None
    published: str | None = None
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _statuses(task_ids: Sequence[str]) -> dict[str, str]:
    """ClearML status of each task, in one query (deleted tasks are absent)."""
    from clearml import Task

    if not task_ids:
        return {}
    rows = Task.query_tasks(
        task_filter={"id": list(task_ids), "page_size": len(task_ids), "search_hidden": True},
        additional_return_fields=["status"],
    )
    return {str(r["id"]): str(r.get("status") or "") for r in rows if isinstance(r, dict)}


def _objective_rows(objectives: Sequence[Objective], values: Sequence[float]) -> list[dict[str, Any]]:
    return [{"name": o.name, "direction": o.direction, "value": v} for o, v in zip(objectives, values, strict=True)]


def _metadata(study: str, template: str, cand: Candidate, rows: list[dict[str, Any]], ds: DatasetRef) -> dict[str, str]:
    first = rows[0]
    return {
        "objective": str(first["name"]),
        "objective_direction": str(first["direction"]),
        "objective_value": repr(float(first["value"])),
        "objectives": json.dumps(rows),
        "params": json.dumps(cand.params, default=str, sort_keys=True),
        "dataset_project": ds.project,
        "dataset_name": ds.name,
        "dataset_version": ds.version,
        "template": template,
        "study": study,
        "task_id": cand.task_id,
        "trial": str(cand.number),
        "promoted_at": f"{time.time():.3f}",
    }


def _beats(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> bool:
    """Whether objective values ``new`` beat ``old`` (same objectives): strictly, or Pareto-dominating."""

    def better(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return bool(a["value"] > b["value"]) if a["direction"] == "max" else bool(a["value"] < b["value"])

    pairs = list(zip(new, old, strict=True))
    return any(better(n, o) for n, o in pairs) and not any(better(o, n) for n, o in pairs)


def _describe(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['name']} {float(r['value']):.6g}" for r in rows)


def decide(new: list[dict[str, Any]], version: str, incumbent: ModelRecord | None, force: bool) -> tuple[bool, str]:
    """Whether the new best takes ``champion`` from ``incumbent``, and why (the champion rule)."""
    if incumbent is None:
        return True, "no champion yet: it becomes the champion"
    if force:
        return True, f"--force: replaces champion {incumbent.id}"
    old = incumbent.objectives
    same = [(r["name"], r["direction"]) for r in new] == [(r["name"], r["direction"]) for r in old]
    if not same:
        theirs = ", ".join(f"{r['name']} ({r['direction']})" for r in old) or "no recorded objective"
        return False, (
            f"stays a challenger: champion {incumbent.id} was chosen on {theirs}, this search on "
            f"{', '.join(r['name'] + ' (' + r['direction'] + ')' for r in new)}; pass --force to replace it"
        )
    if incumbent.dataset.version != version:
        return False, (
            f"stays a challenger: champion {incumbent.id} was scored on dataset version {incumbent.dataset.version},"
            f" this model on {version}, and scores on different data do not compare; pass --force to replace it"
        )
    if _beats(new, old):
        return True, f"beats champion {incumbent.id}: {_describe(new)} vs {_describe(old)}"
    return False, (
        f"stays a challenger: {_describe(new)} does not beat champion {incumbent.id}'s {_describe(old)}"
        " (ties keep the champion); pass --force to replace it"
    )


def _crown(model_id: str, others: Sequence[ModelRecord], lock: ServerLock) -> None:
    """Make ``model_id`` the only champion: tag it first, then untag the others, then repair."""
    lock.check()
    records.set_tags(model_id, add=[CHAMPION])
    for other in others:
        records.set_tags(other.id, remove=[CHAMPION])


def _repair(winner: str | None, template: str, dataset: DatasetRef) -> None:
    """Re-read the champions and leave exactly ``winner`` (or, if None, the one already there)."""
    current = records.champions(template, dataset)
    if winner is None:
        if len(current) <= 1:
            return
        winner = current[0].id  # never none: keep the newest
    for record in current:
        if record.id != winner:
            log.warning("repairing: model %s also carried 'champion'; removing it", record.id)
            records.set_tags(record.id, remove=[CHAMPION])
    if all(r.id != winner for r in current):
        log.warning("repairing: champion %s lost its tag; adding it back", winner)
        records.set_tags(winner, add=[CHAMPION])


def _candidate(study: optuna.Study) -> tuple[Candidate, list[str]]:
    ids = [str(t.user_attrs[TrialAttr.TASK_ID]) for t in completed_in_study(study)]
    candidate, skipped = choose(study, _statuses(ids))
    if candidate is None:
        why = "; ".join(skipped) or "no trial completed"
        raise NotFoundError(
            f"study {study.study_name!r} has no completed trial whose ClearML task completed ({why});"
            " let the search finish (`hpo search ... --resume`) and promote again"
        )
    return candidate, skipped


def promote_study(
    study: str | optuna.Study, *, storage: str | None = None, force: bool = False, publish: bool = False
) -> Promotion:
    """Promote the best completed trial of ``study`` (the SDK must already point at the server).

    Args:
        study: The study, or its name in ``storage``.
        storage: Optuna storage URL (default: the one ``hpo search`` uses).
        force: Take ``champion`` even when the model does not beat the current champion.
        publish: Publish the champion (model and task) afterwards.

    Raises:
        NotFoundError: No such study, no eligible trial, or the trial saved no model.
        ConfigError: The study has no objectives recorded.
        LockError: Another promotion of the same template and dataset held the lock too long.
    """
    loaded = load(study, storage) if isinstance(study, str) else study
    objectives = objectives_of(loaded)
    template = str(loaded.user_attrs.get(StudyAttr.TEMPLATE) or "")
    candidate, skipped = _candidate(loaded)
    model_id = candidate.model_id or records.output_model(candidate.task_id)
    if model_id is None:
        raise NotFoundError(f"trial {candidate.number}'s task {candidate.task_id} saved no output model to promote")
    dataset = records.dataset_of(candidate.task_id)
    rows = _objective_rows(objectives, candidate.values)
    name = loaded.study_name
    with ServerLock(records.champion_key(template, dataset)) as lock:
        records.write_metadata(model_id, _metadata(name, template, candidate, rows, dataset))
        records.set_tags(model_id, add=[BEST, STUDY_PREFIX + name])
        incumbents = [r for r in records.champions(template, dataset) if r.id != model_id]
        mine = CHAMPION in records.read_model(model_id).tags
        incumbent = incumbents[0] if incumbents else None
        if mine and not force:
            take, reason = True, "already the champion"
        else:
            take, reason = decide(rows, dataset.version, incumbent, force)
        if take:
            _crown(model_id, incumbents, lock)
        _repair(model_id if take else None, template, dataset)
        published = _publish(template, dataset) if publish else None
    return Promotion(
        study=name,
        template=template,
        model_id=model_id,
        task_id=candidate.task_id,
        trial=candidate.number,
        objectives=rows,
        params=candidate.params,
        dataset=dataset,
        champion=take,
        reason=reason,
        previous_champion=incumbent.id if take and incumbent else None,
        published=published,
        skipped=skipped,
    )


def _publish(template: str, dataset: DatasetRef) -> str | None:
    current = records.champions(template, dataset)
    if not current:
        return None
    records.publish(current[0])
    return current[0].id


__all__ = ["Promotion", "decide", "promote_study"]
