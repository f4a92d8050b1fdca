"""ClearML task statuses in the groups the suite acts on: one definition for search, promotion and data.

ClearML's task statuses are ``created``, ``queued``, ``in_progress``, ``stopped``, ``completed``,
``failed``, ``published``, ``publishing``, ``closed`` and ``unknown``. The groups:

- :data:`LIVE`: the task may still run (a trial waits for it; an abort waits until none is live);
- :data:`SUCCEEDED`: it ran to its end: a trial's result counts and its model may be promoted;
- :data:`ABORTED`: it was stopped before its end: a trial is truncated (pruned if it reported,
  else failed), never completed;
- :data:`FAILED`: it raised or its process died;
- :data:`ENDED`: any of the last three.

``closed`` is ABORTED. ClearML Server reaches ``closed`` only from ``stopped`` (``tasks.close``;
its state machine in ``apiserver/bll/task/utils.py``), and the SDK never closes a task itself,
so a closed task is a stopped one that someone also closed: it did not run to its end, and a
trial whose task is closed is neither a completed trial nor promotable. ``publishing`` is the
short step to ``published`` and belongs to no group (the search waits for the next poll).

Datasets are read differently: a dataset version is *final* (its content frozen, safe to reuse)
when its status is in :data:`DATASET_FINAL`: the statuses the SDK's
``Dataset.list_datasets(only_completed=True)`` accepts, ``closed`` among them.
"""

from __future__ import annotations

from typing import Final

LIVE: Final = ("created", "queued", "in_progress")
SUCCEEDED: Final = ("completed", "published")
ABORTED: Final = ("stopped", "closed")
FAILED: Final = ("failed",)
ENDED: Final = SUCCEEDED + ABORTED + FAILED

DATASET_FINAL: Final = ("completed", "published", "closed")

__all__ = ["ABORTED", "DATASET_FINAL", "ENDED", "FAILED", "LIVE", "SUCCEEDED"]
