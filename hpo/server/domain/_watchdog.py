"""The periodic job that keeps running tasks honest when their worker or stop request goes silent.

ClearML Server leaves a task ``in_progress`` for hours after its agent died. Here a task that a
worker runs (its ``last_worker`` was reported after it started) ends ``failed`` once that worker
has been silent for ``config.task_timeout_s``, with the reason in ``status_reason``. A task asked
to stop (``status_message == "stopping"``) that nobody ends within the same timeout is marked
``stopped``. Tasks a script runs by itself (``Task.init`` without an agent) are left to their
SDK: failing them would make the SDK kill a live process, e.g. a long HPO controller.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from hpo.server._config import ServerConfig
from hpo.server._router import Data, Runtime
from hpo.server.domain._tasks import abort_pending, set_status
from hpo.server.domain._workers import expired
from hpo.server.store import Store

log = logging.getLogger(__name__)

LOST_MESSAGE = "worker lost"


def _ts(value: object) -> float:
    """Seconds since the epoch of an ISO timestamp; 0 when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


def _expire_workers(runtime: Runtime, now: float) -> None:
    """Forget workers silent past their own registration timeout, as ClearML's Redis TTL does.

    A task such a worker ran is still judged by ``task_timeout_s`` in :func:`_why_lost`.
    """
    for worker_id, worker in list(runtime.workers.items()):
        if expired(worker, now):
            log.info("worker %s expired (silent past its %s s timeout)", worker_id, worker.get("timeout"))
            del runtime.workers[worker_id]


def _run_by_worker(task: Data) -> str | None:
    """The worker running ``task``, when a worker reported it since the task last started."""
    worker = task.get("last_worker")
    if not worker or _ts(task.get("last_worker_report")) < _ts(task.get("started")) - 1.0:
        return None
    return str(worker)


def _why_lost(task: Data, worker_id: str, runtime: Runtime, timeout: float, now: float) -> str | None:
    worker = runtime.workers.get(worker_id)
    if worker is None:
        # Unknown since a server restart or an expiry: count from whichever happened last.
        silent = now - max(runtime.started_at, _ts(task.get("last_worker_report")))
        if silent > timeout:
            return f"its worker {worker_id!r} is gone (no report for {silent:.0f} s)"
        return None
    silent = now - float(worker["seen"])
    if silent > timeout:
        return f"its worker {worker_id!r} sent no report for {silent:.0f} s (agent killed or disconnected?)"
    idle = now - _ts(task.get("last_update"))
    if worker.get("task") != task["id"] and idle > timeout:
        return f"its worker {worker_id!r} is alive but no longer runs it (task silent for {idle:.0f} s)"
    return None


def watch_tasks(store: Store, runtime: Runtime, config: ServerConfig) -> None:
    """Fail tasks whose worker died, finish unanswered stop requests, forget silent workers."""
    now = time.time()
    timeout = config.task_timeout_s
    for task in list(store.tasks):
        if task.get("status") != "in_progress":
            continue
        if abort_pending(task):
            waited = now - _ts(task.get("status_changed"))
            if waited > timeout:
                reason = f"stop requested {waited:.0f} s ago and not acknowledged; stopped by the server"
                _change(store, task["id"], "stopped", reason, "stopped (not acknowledged)")
            continue
        worker_id = _run_by_worker(task)
        why = _why_lost(task, worker_id, runtime, timeout, now) if worker_id else None
        if why:
            reason = f"task timeout ({timeout:g} s): {why}"
            _change(store, task["id"], "failed", reason, LOST_MESSAGE)
    _expire_workers(runtime, now)


def _change(store: Store, task_id: str, status: str, reason: str, message: str) -> None:
    task = store.tasks.editable(task_id)
    assert task is not None
    log.warning("task %s -> %s: %s", task_id, status, reason)
    set_status(task, status, reason=reason, message=message)
    store.tasks.put(task)
