"""One study, several controllers: the budget is claimed atomically in the study storage.

Two machines may drive one study (the second joins with ``--resume --study NAME``, both pointing
``--storage`` at one PostgreSQL). Each controller is an *owner* with its own record among the
study's user attributes (``controller:<owner>``: host, pid, started, heartbeat, state), so that one can
tell whether another is alive without either overwriting the other's record.

Invariants:

- A trial counts against the budget once it is *claimed*: :func:`claim_trial` asks Optuna for a
  trial and labels it ``claimed_by`` while holding the study's lock (:func:`study_lock`), after
  counting, under the same lock, the trials that already count (:func:`counts_against_budget`).
  So however controllers interleave, no more than ``budget`` trials are ever claimed.
- A claim ends with the trial: a duplicate configuration or a trial that never got a task stops
  counting; a launched trial counts for good, unless its own search stopped it
  (:func:`interrupt_trial`: Ctrl-C, SIGTERM, ``hpo stop``, a time limit): that one is released,
  and a later claim runs its configuration again (when no other configuration waits, such as a
  space's ``initial`` ones), as a trial marked ``retry_of`` it. So a search stopped and resumed
  ends with ``budget`` finished trials. The claim of a trial not launched yet
  lapses when its controller dies (the next ``--resume`` fails that trial as never launched).
- The lock is held by a database transaction (PostgreSQL: ``pg_advisory_xact_lock``) or an
  ``flock`` beside an SQLite file, so a controller killed while holding it releases it.
  Other databases get a lock within this process only, with a warning: one controller per study.
- A controller adopts (re-attaches, fails, relaunches) only trials whose owner is gone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.study._control import controller_gone, finish_trial, launched
from hpo.study._keys import SearchState, StudyAttr, TrialAttr, TrialLabel

log = logging.getLogger(__name__)

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def new_owner() -> str:
    """A controller's identity: host, pid and a random token (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def study_lock(storage: optuna.storages.BaseStorage, study_name: str) -> Iterator[None]:
    """Hold the study's lock, shared by every process (and machine) using this storage."""
    engine = getattr(storage, "engine", None)
    dialect = engine.dialect.name if engine is not None else ""
    if dialect == "postgresql":
        yield from _postgres_lock(engine, study_name)
    elif dialect == "sqlite" and engine is not None and engine.url.database not in (None, "", ":memory:"):
        yield from _file_lock(f"{engine.url.database}.hpo-lock")
    else:
        if dialect:
            log.warning(
                "study storage %s: controllers are coordinated within this process only; run one controller per study",
                dialect,
            )
        with _local_guard:
            lock = _local_locks.setdefault(study_name, threading.Lock())
        with lock:
            yield


def _postgres_lock(engine: Any, study_name: str) -> Iterator[None]:
    import sqlalchemy

    digest = hashlib.blake2b(f"hpo-study:{study_name}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    with engine.begin() as conn:  # the lock lasts as long as this transaction
        conn.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield


def _file_lock(path: str) -> Iterator[None]:
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def interrupted(trial: FrozenTrial) -> bool:
    """Whether its own search stopped the trial (:func:`interrupt_trial`): not spent."""
    return bool(trial.user_attrs.get(TrialAttr.INTERRUPTED))


def counts_against_budget(trial: FrozenTrial, study_attrs: Mapping[str, Any] | None = None) -> bool:
    """Launched (it has a task) and neither a duplicate nor interrupted by its search, or claimed
    and not finished yet by a controller that still runs (given the study's ``study_attrs``)."""
    if trial.user_attrs.get(TrialAttr.STATE) == TrialLabel.DUPLICATE or interrupted(trial):
        return False
    if launched(trial):
        return True
    owner = trial.user_attrs.get(TrialAttr.CLAIMED_BY)
    if not owner or trial.state not in (TrialState.RUNNING, TrialState.WAITING):
        return False
    return study_attrs is None or owner_alive(study_attrs, owner)  # a dead one's claim lapses


def claim_trial(
    study: optuna.Study, storage: optuna.storages.BaseStorage, owner: str, budget: int
) -> tuple[optuna.Trial | None, list[FrozenTrial]]:
    """A new trial claimed by ``owner``, or None when ``budget`` trials already count.

    When no configuration waits in the study and an interrupted trial's configuration has not run
    again, the new trial takes that configuration (its parameters fixed, ``retry_of`` its number).

    Returns:
        The trial (or None) and the study's trials as seen under the lock, before the claim.
    """
    with study_lock(storage, study.study_name):
        trials, attrs = study.get_trials(deepcopy=False), study.user_attrs
        if sum(counts_against_budget(t, attrs) for t in trials) >= budget:
            return None, trials
        again = None if any(t.state == TrialState.WAITING for t in trials) else _not_rerun(trials)
        if again is not None:
            study.enqueue_trial(dict(again.params), user_attrs={TrialAttr.RETRY_OF: again.number})
        trial = study.ask()
        trial.set_user_attr(TrialAttr.CLAIMED_BY, owner)
        return trial, trials


def interrupt_trial(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int, reason: str) -> bool:
    """Finish trial ``number`` as stopped by its own search: unspent, its configuration to run again.

    The trial is labelled ``stopped`` with ``interrupted`` (and ``error``) set to ``reason`` and told
    to Optuna as ``FAIL``, never ``PRUNED``: TPE and the other samplers skip failed trials, while a
    pruned one would count as a poor configuration though it was cut short by Ctrl-C or a time
    limit. It no longer counts against the budget (:func:`counts_against_budget`), and the next
    :func:`claim_trial` (this study's ``--resume``, or another controller sharing it) runs its
    parameters again.

    Args:
        storage: The study's storage.
        study: The study.
        number: The trial's number; one that is finished already is left as it is.
        reason: Why the search stopped (``Ctrl-C``, ``SIGTERM``, ``stop requested``, ``time limit``...).

    Returns:
        Whether the trial was interrupted (False: it had finished already).
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    if storage.get_trial(storage.get_trial_id_from_study_id_trial_number(study_id, number)).state.is_finished():
        return False
    attrs = {TrialAttr.STATE: TrialLabel.STOPPED, TrialAttr.INTERRUPTED: reason, TrialAttr.ERROR: reason[:500]}
    finish_trial(storage, study, number, TrialState.FAIL, attrs)
    log.info("trial %d interrupted (%s): not spent; the next claim runs its configuration again", number, reason)
    return True


def _not_rerun(trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """The first interrupted trial whose configuration no trial has taken up again (``retry_of``)."""
    # A retry that never got a task (its controller died before launching it) took nothing up.
    taken = {t.user_attrs.get(TrialAttr.RETRY_OF) for t in trials if launched(t) or not t.state.is_finished()}
    return next((t for t in trials if interrupted(t) and t.params and t.number not in taken), None)


def write_controller_record(study: optuna.Study, owner: str, started: float, *, ended: bool = False) -> None:
    """Write ``owner``'s record among the study's attributes: alive (with a fresh heartbeat) or ended."""
    now = time.time()
    record: dict[str, Any] = {
        StudyAttr.CONTROLLER: {"host": socket.gethostname(), "pid": os.getpid()},
        StudyAttr.STATE: SearchState.STOPPED if ended else SearchState.RUNNING,
        StudyAttr.STARTED: started,
        StudyAttr.HEARTBEAT: now,
    }
    if ended:
        record[StudyAttr.ENDED] = now
    study.set_user_attr(StudyAttr.CONTROLLER_RECORD + owner, record)


def controller_records(attrs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every controller record among a study's user attributes, by owner."""
    prefix = StudyAttr.CONTROLLER_RECORD
    return {k[len(prefix) :]: dict(v) for k, v in attrs.items() if k.startswith(prefix)}


def owner_alive(attrs: Mapping[str, Any], owner: str | None) -> bool:
    """Whether ``owner``'s controller still runs (no record: a controller from before records, gone)."""
    record = controller_records(attrs).get(owner or "")
    return record is not None and record.get(StudyAttr.STATE) == SearchState.RUNNING and not controller_gone(record)


def others_alive(study: optuna.Study, owner: str) -> list[str]:
    """The other controllers of ``study`` that still run."""
    attrs = study.user_attrs
    return [other for other in controller_records(attrs) if other != owner and owner_alive(attrs, other)]


__all__ = [
    "claim_trial",
    "controller_records",
    "counts_against_budget",
    "interrupt_trial",
    "interrupted",
    "new_owner",
    "others_alive",
    "owner_alive",
    "study_lock",
    "write_controller_record",
]
