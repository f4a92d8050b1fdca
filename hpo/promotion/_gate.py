"""The promotion gate, ClearML side: per-fold evidence from trial tasks, and re-running the champion.

A template that cross-validates uploads a ``cv_folds`` artifact (``base_tasks/_common.py``'s
``report_cv``): ``{"k", "signatures": [hash of each fold's held-out review ids], "scores":
[{metric: value} per fold]}`` and reports the fold means under the title ``cv``. An objective
``cv/<metric>`` therefore has per-fold scores, and two tasks whose signatures (and dataset
version) agree were scored on the same folds, so their scores pair fold by fold.

When the champion's folds differ from the candidates' (another dataset version, another k, or no
folds at all), its configuration is run again: its task is cloned with the candidates' dataset
version and ``cv_folds``, enqueued on the search's queue, and waited for. A clone that no agent
takes within the pickup time, that fails, or that outlives the timeout is dequeued, stopped and
deleted, never left behind; a finished one is kept (tagged :data:`RERUN_TAG`) and reused by later
promotions against the same champion on the same data.

Nothing here writes tags or metadata: :mod:`hpo.promotion._promote` decides and records.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from hpo import task_status

log = logging.getLogger(__name__)

CV_TITLE = "cv"  # the title report_cv reports fold means under
ARTIFACT = "cv_folds"
RERUN_TAG = "hpo-champion-rerun"
RERUN_OF = "rerun-of:"  # + the champion's model id
PICKUP_S = 60.0  # an agent must take the re-run from the queue within this (or the timeout, if shorter)


@dataclass(frozen=True)
class Folds:
    """One task's per-fold scores of one metric, and the folds they were scored on."""

    task_id: str
    version: str
    signatures: tuple[str, ...]
    scores: tuple[float, ...]

    @property
    def k(self) -> int:
        return len(self.scores)

    def same_folds(self, other: Folds) -> bool:
        return (self.version, self.signatures) == (other.version, other.signatures)


class RerunError(Exception):
    """The champion's re-run did not produce folds (the message says why, in one line)."""


def fold_metric(title: str, series: str) -> str | None:
    """The ``cv_folds`` score key of objective ``title/series``, or None when it is not a CV mean."""
    return series if title == CV_TITLE else None


def read_folds(task_id: str, metric: str, version: str) -> Folds | None:
    """``metric``'s per-fold scores of task ``task_id`` (scored on dataset ``version``), or None without them."""
    from clearml import Task

    task: Any = Task.get_task(task_id=task_id)
    artifact = task.artifacts.get(ARTIFACT)
    if artifact is None:
        return None
    raw = artifact.get()
    try:
        scores = tuple(float(fold[metric]) for fold in raw["scores"])
        signatures = tuple(str(s) for s in raw["signatures"])
    except (KeyError, TypeError, ValueError) as err:
        log.warning("task %s: artifact %s has no per-fold %r (%s); treated as no folds", task_id, ARTIFACT, metric, err)
        return None
    if len(scores) != len(signatures) or len(scores) < 2:
        log.warning("task %s: artifact %s has %d scores for %d folds", task_id, ARTIFACT, len(scores), len(signatures))
        return None
    return Folds(task_id, version, signatures, scores)


def earlier_rerun(model_id: str, version: str, metric: str, like: Folds) -> Folds | None:
    """The folds of a completed earlier re-run of champion ``model_id`` on ``like``'s folds, if one exists."""
    from clearml import Task

    rows = Task.query_tasks(
        tags=["__$all", RERUN_TAG, RERUN_OF + model_id],
        task_filter={"status": list(task_status.SUCCEEDED), "search_hidden": True},
    )
    for task_id in rows:
        folds = read_folds(str(task_id), metric, version)
        if folds is not None and folds.same_folds(like):
            return folds
    return None


def rerun(model_id: str, task_id: str, like: Folds, metric: str, queue: str, timeout_s: float) -> Folds:
    """Run champion task ``task_id``'s configuration on ``like``'s dataset version and number of folds.

    Raises:
        RerunError: No agent took it in time, it failed, it outlived ``timeout_s``, or its folds
            still differ from ``like``'s; the clone is then removed.
    """
    from clearml import Task

    source: Any = Task.get_task(task_id=task_id)
    clone: Any = Task.clone(source_task=source, name=f"{source.name} [champion re-run on {like.version}]")
    try:
        clone.update_parameters({"General/dataset_version": like.version, "General/cv_folds": like.k})
        clone.add_tags([RERUN_TAG, RERUN_OF + model_id])
        try:
            Task.enqueue(clone, queue_name=queue)
        except ValueError as err:  # the SDK's "Could not find queue named ..."
            raise RerunError(f"it cannot be enqueued on {queue!r} ({err}); pass an existing --queue") from err
        log.info("re-running champion %s's task %s as %s on queue %s", model_id, task_id, clone.id, queue)
        status = _wait(clone, queue, timeout_s)
        if status not in task_status.SUCCEEDED:
            reason = clone.data.status_reason or clone.data.status_message or ""
            raise RerunError(f"the champion's re-run {clone.id} ended {status}{': ' + reason if reason else ''}")
        folds = read_folds(str(clone.id), metric, like.version)
        if folds is None or not folds.same_folds(like):
            raise RerunError(f"the champion's re-run {clone.id} did not report the candidates' {like.k} folds")
        return folds
    except BaseException:
        _discard(clone)
        raise


def _wait(clone: Any, queue: str, timeout_s: float) -> str:
    """Wait for ``clone`` to end; its final status. Raises RerunError when not taken or not done in time."""
    started = time.monotonic()
    pickup = min(PICKUP_S, timeout_s)
    while True:
        clone.reload()
        status = str(clone.get_status())
        waited = time.monotonic() - started
        if status in task_status.ENDED:
            return status
        if status == "queued" and waited > pickup:
            raise RerunError(
                f"no agent took the champion's re-run from queue {queue!r} within {pickup:.0f} s;"
                f" start one (`hpo agent start --queue {queue}`) and promote again"
            )
        if waited > timeout_s:
            raise RerunError(f"the champion's re-run did not finish within {timeout_s:.0f} s (--rerun-timeout)")
        time.sleep(0.5)


def _discard(clone: Any) -> None:
    """Dequeue, stop and delete a re-run that will not be used (best effort, each step logged)."""
    from clearml import Task

    try:
        clone.reload()
        status = str(clone.get_status())
        if status == "queued":
            Task.dequeue(clone)
        if status in task_status.LIVE:
            clone.mark_stopped(force=True, status_message="champion re-run abandoned by hpo promote")
        clone.delete(raise_on_error=True)
        log.info("deleted the abandoned champion re-run %s", clone.id)
    except Exception as err:  # report, never mask the reason the re-run is abandoned
        log.warning("could not remove the champion re-run %s: %s; delete it by hand", clone.id, err)


__all__ = [
    "ARTIFACT",
    "CV_TITLE",
    "RERUN_TAG",
    "Folds",
    "RerunError",
    "earlier_rerun",
    "fold_metric",
    "read_folds",
    "rerun",
]
