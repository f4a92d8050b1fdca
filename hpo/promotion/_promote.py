"""``hpo promote``: mark a search's best model and apply the champion rule.

The champion rule, per template and dataset (project and name): exactly one model carries
``champion``. A new best takes it when there is none, or when ``force`` is set. Otherwise the
gate decides (:mod:`hpo.promotion._judge`): the search's top candidates against the champion on
the same folds; the one whose improvement is surely above the threshold takes it. Where there is
no per-fold evidence, the rule on recorded values decides (:func:`decide`): it must beat the
champion on the same objectives and the same dataset version (strictly better on a single
objective; Pareto-dominating it on several). Otherwise it stays a challenger and the result says
why. The previous champion loses only the ``champion`` tag.

Only a candidate whose weights are its own is promoted (:mod:`hpo.promotion._weights`): one whose
model is a local file outside its task's output destination (an agent's code folder, which the next
trial overwrites) is refused, named in ``refused`` (and ``skipped``) with the fix, and the next-best one is taken. The
promoted model's metadata records the SHA-256 of its weights, which ``get_best_model`` checks.

Concurrency: the tags and metadata are written under a :class:`~hpo.promotion._lock.ServerLock`
keyed by template and dataset. Under it the new champion is tagged *before* the old one is untagged
(so there is never none), and the champions are then re-read and repaired to exactly the one
chosen (so a broken lease cannot leave two). The gate's evidence is gathered before the lock (a
champion's re-run takes longer than a lease) and used under it only if the champion is unchanged;
otherwise it is gathered again under the lock, from recorded folds only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import optuna

from hpo.errors import NotFoundError
from hpo.promotion import _records as records
from hpo.promotion import _weights as weights
from hpo.promotion._evidence import Gate
from hpo.promotion._judge import FALLBACK, FIRST, FORCED, PROMOTE, Evidence, judge
from hpo.promotion._lock import ServerLock
from hpo.promotion._records import BEST, CHAMPION, STUDY_PREFIX, DatasetRef, ModelRecord
from hpo.promotion._select import Candidate, completed_in_study, ranked
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
    refused: list[str] = field(default_factory=list)  # better candidates whose weights were not their own
    evidence: dict[str, Any] | None = None

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
    return [{"name": o.label, "direction": o.direction, "value": v} for o, v in zip(objectives, values, strict=True)]


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


def _ranked(study: optuna.Study, limit: int) -> tuple[list[Candidate], list[str], list[str]]:
    """The ``limit`` best candidates whose weights are their own (model ids resolved), why others were
    skipped (refusals included), and the refusals."""
    ids = [str(t.user_attrs[TrialAttr.TASK_ID]) for t in completed_in_study(study)]
    found, skipped = ranked(study, _statuses(ids), len(ids))
    if not found:
        why = "; ".join(skipped) or "no trial completed"
        raise NotFoundError(
            f"study {study.study_name!r} has no completed trial whose ClearML task completed ({why});"
            " let the search finish (`hpo search ... --resume`) and promote again"
        )
    kept, refused = weights.portable(found, limit)
    if not kept:
        raise NotFoundError(
            f"study {study.study_name!r}: no completed trial has weights of its own to promote: {'; '.join(refused)}"
        )
    return kept, skipped + refused, refused


def _model_of(candidate: Candidate) -> str:
    if candidate.model_id is None:  # portable() resolved every candidate's model
        raise NotFoundError(f"trial {candidate.number}'s task {candidate.task_id} saved no output model to promote")
    return candidate.model_id


@dataclass
class _Plan:
    """What the gate found before the lock: the champion it compared with and its evidence."""

    champion: ModelRecord | None
    evidence: Evidence | None


def _gated(
    top: list[Candidate], version: str, objectives: Sequence[Objective], champion: ModelRecord, opts: _Options
) -> Evidence:
    return judge(
        [c for c in top if c.model_id != champion.id],  # a champion is no candidate against itself
        version,
        objectives,
        champion,
        opts.gate,
        queue=opts.queue,
        timeout_s=opts.timeout_s,
        allow_rerun=opts.allow_rerun,
    )


@dataclass(frozen=True)
class _Options:
    gate: Gate
    force: bool
    queue: str | None
    timeout_s: float
    allow_rerun: bool = True


def _settle(
    top: list[Candidate],
    version: str,
    objectives: Sequence[Objective],
    incumbent: ModelRecord | None,
    evidence: Evidence | None,
    opts: _Options,
) -> tuple[Candidate, bool, str, Evidence]:
    """Which candidate the promotion is about, whether it takes ``champion``, why, and the evidence."""
    rows = _objective_rows(objectives, top[0].values)
    if incumbent is None:
        return top[0], True, "no champion yet: it becomes the champion", Evidence(opts.gate, FIRST, "no champion yet")
    if opts.force:
        ev = Evidence(opts.gate, FORCED, "--force: the gate was skipped")
        return top[0], True, f"--force: replaces champion {incumbent.id} (the gate was skipped)", ev
    if evidence is None:
        evidence = _gated(top, version, objectives, incumbent, opts)
    if evidence.decision == FALLBACK:
        take, reason = decide(rows, version, incumbent, force=False)
        return top[0], take, f"{reason} ({evidence.reason})", evidence
    chosen = next((c for c in top if c.number == evidence.chosen), top[0])
    return chosen, evidence.decision == PROMOTE, evidence.reason, evidence


def promote_study(
    study: str | optuna.Study,
    *,
    storage: str | None = None,
    force: bool = False,
    publish: bool = False,
    gate: Gate | None = None,
    queue: str | None = None,
    rerun_timeout_s: float = 600.0,
) -> Promotion:
    """Promote the best completed trial of ``study`` (the SDK must already point at the server).

    With a champion in place, the gate (``gate``, default :class:`Gate`'s corrected-t at 95%) compares
    the search's top candidates with it on the same folds, re-running the champion's configuration
    on ``queue`` (default: the search's first queue) where its folds differ; see
    :mod:`hpo.promotion._judge`.

    Args:
        study: The study, or its name in ``storage``.
        storage: Optuna storage URL (default: the one ``hpo search`` uses).
        force: Take ``champion`` without the gate and the champion rule.
        publish: Publish the champion (model and task) afterwards.
        gate: The rule, confidence, minimum improvement and number of candidates.
        queue: Where the champion is re-run (default: the study's first queue).
        rerun_timeout_s: How long the champion's re-run may take (an agent must take it within a minute).

    Raises:
        NotFoundError: No such study, no eligible trial, or none with weights of its own (each one's reason
            and the fix are named).
        ConfigError: The study has no objectives recorded.
        LockError: Another promotion of the same template and dataset held the lock too long.
    """
    loaded = load(study, storage) if isinstance(study, str) else study
    objectives = objectives_of(loaded)
    template = str(loaded.user_attrs.get(StudyAttr.TEMPLATE) or "")
    gate = gate or Gate()
    queues = loaded.user_attrs.get(StudyAttr.QUEUES) or []
    opts = _Options(gate, force, queue or (str(queues[0]) if queues else None), rerun_timeout_s)
    top, skipped, refused = _ranked(loaded, gate.top_k)
    # Hashed before the lock (a download can outlast its lease); another chosen one is hashed under it.
    digests = {_model_of(top[0]): _digest(_model_of(top[0]))}
    dataset = records.dataset_of(top[0].task_id)
    name = loaded.study_name
    # The gate runs before the lock: a re-run takes minutes, the lock's lease two. Under the lock the
    # evidence is used only if the champion is still the one it was gathered against.
    plan = _plan(top, dataset, objectives, template, opts)
    with ServerLock(records.champion_key(template, dataset)) as lock:
        incumbents = records.champions(template, dataset)
        incumbent = next((r for r in incumbents if r.id != top[0].model_id), None)
        evidence: Evidence | None = None
        if any(r.id == top[0].model_id for r in incumbents) and not force:
            chosen, take, reason = top[0], True, "already the champion"  # its evidence stays as recorded
        else:
            same = plan.champion is not None and incumbent is not None and plan.champion.id == incumbent.id
            again = replace(opts, allow_rerun=False)
            chosen, take, reason, evidence = _settle(
                top, dataset.version, objectives, incumbent, plan.evidence if same else None, again
            )
        model_id = _model_of(chosen)
        rows = _objective_rows(objectives, chosen.values)
        meta = _metadata(name, template, chosen, rows, dataset)
        meta[records.WEIGHTS_SHA256] = digests.get(model_id) or _digest(model_id)
        if evidence is not None:
            meta[records.EVIDENCE] = json.dumps(evidence.as_dict(), default=str)
        records.write_metadata(model_id, meta)
        records.set_tags(model_id, add=[BEST, STUDY_PREFIX + name])
        others = [r for r in incumbents if r.id != model_id]
        if take:
            _crown(model_id, others, lock)
        _repair(model_id if take else None, template, dataset)
        published = _publish(template, dataset) if publish else None
    return Promotion(
        study=name,
        template=template,
        model_id=model_id,
        task_id=chosen.task_id,
        trial=chosen.number,
        objectives=rows,
        params=chosen.params,
        dataset=dataset,
        champion=take,
        reason=reason,
        previous_champion=incumbent.id if take and incumbent else None,
        published=published,
        skipped=skipped,
        refused=refused,
        evidence=evidence.as_dict() if evidence is not None else records.read_model(model_id).evidence,
    )


def _plan(
    top: list[Candidate], dataset: DatasetRef, objectives: Sequence[Objective], template: str, opts: _Options
) -> _Plan:
    """The gate's evidence against the champion as it is now (read without the lock)."""
    current = records.champions(template, dataset)
    champion = next((r for r in current if r.id != top[0].model_id), None)
    if champion is None or opts.force or any(r.id == top[0].model_id for r in current):
        return _Plan(champion, None)
    return _Plan(champion, _gated(top, dataset.version, objectives, champion, opts))


def _digest(model_id: str) -> str:
    """SHA-256 of the weights as the store has them now (downloaded afresh, not from the SDK's cache)."""
    return weights.digest(weights.download(model_id, fresh=True))


def _publish(template: str, dataset: DatasetRef) -> str | None:
    current = records.champions(template, dataset)
    if not current:
        return None
    records.publish(current[0])
    return current[0].id


__all__ = ["Promotion", "decide", "promote_study"]
