"""Watching and stopping searches from any process: what ``hpo status``, ``hpo studies`` and ``hpo stop`` do.

These read the study only (no ClearML connection), except :func:`stop_search` when the search's
controller has died: it then connects and does the controller's cleanup itself.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpo.errors import HPOError, NotFoundError
from hpo.study import (
    SearchState,
    StorageLike,
    StudyAttr,
    Summary,
    as_storage,
    controller_gone,
    latest,
    load,
    request_stop,
    study_names,
    summarize,
)

if TYPE_CHECKING:
    from hpo.search._cleanup import Cleanup

log = logging.getLogger(__name__)

NO_SEARCHES = "no searches yet; run `hpo search tfidf`"


def search_status(study: str | None = None, storage: StorageLike = None) -> Summary:
    """The summary of search ``study`` (default: the latest started).

    Raises:
        NotFoundError: No such study, or no search at all.
    """
    store = as_storage(storage)
    name = study or latest(store)
    if name is None:
        raise NotFoundError(NO_SEARCHES)
    return summarize(load(name, store))


def list_studies(storage: StorageLike = None) -> list[Summary]:
    """Every search in the storage, the first started first."""
    store = as_storage(storage)
    summaries = [summarize(load(name, store)) for name in study_names(store)]
    return sorted(summaries, key=lambda s: float(s.attrs.get(StudyAttr.STARTED) or 0))


@dataclass(frozen=True)
class StopResult:
    """How :func:`stop_search` ended a search.

    Attributes:
        study: The study's name.
        state: Its state now (a :class:`~hpo.study.SearchState` word).
        cleanup: What this process ended itself, when the search's controller had died.
    """

    study: str
    state: str
    cleanup: Cleanup | None = None


def stop_search(
    study: str,
    storage: StorageLike = None,
    *,
    timeout: float = 60.0,
    api_host: str | None = None,
    poll_s: float = 0.5,
) -> StopResult:
    """Ask search ``study`` to stop and wait until it has: its queued trials dequeued, running ones aborted.

    When its controller has died, this process does the cleanup itself (connecting to ``api_host``,
    else the configured server).

    Raises:
        NotFoundError: No such study.
        HPOError: The controller did not stop within ``timeout`` seconds.
    """
    store = as_storage(storage)
    attrs = request_stop(store, study)
    if controller_gone(attrs):
        from hpo.connection import connect
        from hpo.search._cleanup import stop_dead_search

        connect(api_host)
        return StopResult(study, SearchState.STOPPED, stop_dead_search(store, study))
    deadline = time.monotonic() + timeout
    while True:
        state = summarize(load(study, store)).state
        if state != SearchState.RUNNING:
            return StopResult(study, state)
        if time.monotonic() >= deadline:
            raise HPOError(f"study {study!r} did not stop within {timeout:g} s; is its controller alive?")
        time.sleep(poll_s)


__all__ = ["NO_SEARCHES", "StopResult", "list_studies", "search_status", "stop_search"]
