"""The promotion gate's verdict: the search's top candidates against the champion on the same folds.

:func:`judge` gathers the per-fold scores of the top ``gate.top_k`` candidates and of the champion
(re-running the champion where its folds differ), compares each candidate with it
(:mod:`hpo.promotion._evidence`) and returns an :class:`Evidence`: what was compared, the
intervals, and a decision:

- ``promote``: a candidate's improvement is surely above ``min_improvement``: it takes ``champion``;
- ``keep``: none is, or the champion could not be scored on the candidates' folds: it stays;
- ``fallback``: no per-fold evidence (not a CV objective, a template without folds, several
  objectives, ``--gate none``): the champion rule on mean values decides, and this says why.

The per-fold scores come from ``cv_folds`` artifacts, which are K-fold CV folds: their training
sets share rows, so the default gate (``auto``) applies the corrected resampled t interval.

The evidence is recorded on the model promoted (or left a challenger) and shown by ``hpo best``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hpo.promotion import _gate
from hpo.promotion._evidence import Comparison, Gate, compare, describe, differences, pick
from hpo.promotion._gate import Folds, RerunError
from hpo.promotion._records import ModelRecord
from hpo.promotion._select import Candidate
from hpo.study import Objective

log = logging.getLogger(__name__)

PROMOTE, KEEP, FALLBACK, FORCED, FIRST = "promote", "keep", "fallback", "forced", "first"


@dataclass
class Evidence:
    """What the gate compared and decided (stored as JSON in the model's ``evidence`` metadata).

    Attributes:
        decision: ``promote``, ``keep``, ``fallback``, ``forced`` (``--force`` skipped the gate) or
            ``first`` (no champion to compare with).
        rule: The interval rule applied (``corrected-t``, ``t-test``, ``bootstrap``); None when no
            interval was compared (``gate.rule`` is then recorded).
        reason: One line: why.
        chosen: The trial number of the candidate the decision is about (None: the search's best).
        champion: ``{model_id, task_id, scores, source, rerun_task_id}`` when it was scored.
        candidates: ``{trial, task_id, model_id, scores, differences, improvement, low, high, confidence,
            passed}`` per candidate compared.
    """

    gate: Gate
    decision: str
    reason: str
    metric: str | None = None
    direction: str | None = None
    signatures: list[str] = field(default_factory=list)
    champion: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chosen: int | None = None
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule or self.gate.rule,
            "gate": self.gate.as_dict(),
            "decision": self.decision,
            "reason": self.reason,
            "metric": self.metric,
            "direction": self.direction,
            "folds": len(self.signatures),
            "signatures": self.signatures,
            "champion": self.champion,
            "candidates": self.candidates,
            "notes": self.notes,
            "chosen": self.chosen,
        }


def _champion_folds(
    champion: ModelRecord, metric: str, like: Folds, queue: str | None, timeout_s: float, allow_rerun: bool
) -> tuple[Folds, dict[str, Any]]:
    """The champion's folds on ``like``'s folds: its own task's, an earlier re-run's, or a new re-run's."""
    own = _gate.read_folds(champion.task_id, metric, champion.dataset.version)
    if own is not None and own.same_folds(like):
        return own, {"source": "its task", "rerun_task_id": None}
    why = (
        "it reports no per-fold scores"
        if own is None
        else f"it was scored on dataset version {own.version} with {own.k} folds"
        if own.version != like.version or own.k != like.k
        else "its folds hold other reviews"
    )
    earlier = _gate.earlier_rerun(champion.id, like.version, metric, like)
    if earlier is not None:
        return earlier, {"source": "an earlier re-run", "rerun_task_id": earlier.task_id, "why": why}
    if not allow_rerun:
        raise RerunError(f"its folds differ ({why}) and the champion changed while the gate ran; promote again")
    if not queue:
        raise RerunError(f"its folds differ ({why}) and no queue is known to re-run it on; pass --queue")
    try:
        folds = _gate.rerun(champion.id, champion.task_id, like, metric, queue, timeout_s)
    except RerunError as err:
        raise RerunError(f"its folds differ ({why}) and {err}") from err
    return folds, {"source": "a re-run on the candidates' folds", "rerun_task_id": folds.task_id, "why": why}


def _fallback(gate: Gate, why: str) -> Evidence:
    return Evidence(gate, FALLBACK, f"no per-fold evidence: {why}; the champion rule on mean values decides")


def _candidate_folds(
    ranked: Sequence[Candidate], metric: str, version: str
) -> tuple[list[tuple[Candidate, Folds]], list[str]]:
    """The candidates' folds, those on the first candidate's folds only; notes on the others."""
    found: list[tuple[Candidate, Folds]] = []
    notes = []
    for cand in ranked:
        folds = _gate.read_folds(cand.task_id, metric, version)
        if folds is None:
            notes.append(f"trial {cand.number}: its task {cand.task_id} reports no per-fold scores")
        elif found and not folds.same_folds(found[0][1]):
            notes.append(f"trial {cand.number}: scored on other folds than trial {found[0][0].number}; left out")
        else:
            found.append((cand, folds))
    return found, notes


def judge(
    ranked: Sequence[Candidate],
    version: str,
    objectives: Sequence[Objective],
    champion: ModelRecord,
    gate: Gate,
    *,
    queue: str | None,
    timeout_s: float,
    allow_rerun: bool = True,
) -> Evidence:
    """The gate's verdict on ``ranked`` (best first, at most ``gate.top_k``) against ``champion``.

    Args:
        ranked: The search's best candidates, all scored on dataset ``version``.
        version: Their dataset version.
        objectives: The study's objectives.
        champion: The current champion (none of ``ranked``'s models).
        gate: The rule and its parameters.
        queue: Where to re-run the champion when its folds differ.
        timeout_s: How long a re-run may take.
        allow_rerun: False to decide on recorded folds only (``keep`` when a re-run would be needed).
    """
    if gate.rule == "none":
        return _fallback(gate, "the gate is off (--gate none)")
    if len(objectives) != 1:
        return _fallback(gate, f"the gate compares one objective, this study has {len(objectives)}")
    objective = objectives[0]
    metric = _gate.fold_metric(objective.title, objective.series)
    if metric is None:
        return _fallback(gate, f"objective {objective.name} is not a cross-validated mean ({_gate.CV_TITLE}/...)")
    found, notes = _candidate_folds(ranked[: gate.top_k], metric, version)
    if not found or found[0][0] is not ranked[0]:
        return _fallback(gate, f"trial {ranked[0].number}'s task reports no per-fold {metric} (no cv_folds artifact)")
    like = found[0][1]
    base = Evidence(
        gate, KEEP, "", objective.name, objective.direction, list(like.signatures), notes=notes, chosen=ranked[0].number
    )
    try:
        theirs, source = _champion_folds(champion, metric, like, queue, timeout_s, allow_rerun)
    except RerunError as err:
        base.champion = {"model_id": champion.id, "task_id": champion.task_id, "scores": None}
        base.reason = f"stays a challenger: champion {champion.id} could not be scored on the same folds: {err}"
        return base
    base.champion = {"model_id": champion.id, "task_id": champion.task_id, "scores": list(theirs.scores), **source}
    comparisons = []
    for cand, folds in found:
        diffs = differences(folds.scores, theirs.scores, objective.direction)
        comparison = compare(diffs, gate, candidates=len(found), shared_training=True)  # K-fold CV folds
        comparisons.append(comparison)
        base.candidates.append(_entry(cand, folds, diffs, comparison))
    winner = pick(comparisons)
    index = 0 if winner is None else winner
    chosen, comparison = found[index][0], comparisons[index]
    base.chosen, base.rule = chosen.number, comparison.rule
    said = f"trial {chosen.number}'s {objective.name} improvement {describe(comparison, like.k)}"
    if winner is None:
        base.reason = (
            f"stays a challenger: no candidate surely beats champion {champion.id} on the same folds"
            f" ({said} is not above {gate.min_improvement:g}); pass --force to replace it"
        )
    else:
        base.decision = PROMOTE
        base.reason = f"beats champion {champion.id} on the same folds: {said} is above {gate.min_improvement:g}"
    return base


def _entry(cand: Candidate, folds: Folds, diffs: list[float], comparison: Comparison) -> dict[str, Any]:
    return {
        "trial": cand.number,
        "task_id": cand.task_id,
        "model_id": cand.model_id,
        "scores": list(folds.scores),
        "differences": diffs,
        **comparison.as_dict(),
    }


__all__ = ["FALLBACK", "FIRST", "FORCED", "KEEP", "PROMOTE", "Evidence", "judge"]
