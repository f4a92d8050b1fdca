"""Keep an abort that reaches a task while its forked program starts: ``tasks.started`` must not erase it.

A ClearML abort of a running task is a status: ``tasks.stop`` leaves it ``in_progress`` with
``status_message`` "stopping", ``tasks.stopped`` (the controller's abort) makes it ``stopped``; the
agent's daemon polls the task and kills its program when it sees either. But the program itself
marks the task started twice or three times as it starts (the agent's ``execute``, then
``Task.init`` in the script), and ``tasks.started`` overwrites status and message (ClearML's server
does so too): an abort that lands before those calls is erased before the daemon's next poll
sees it, and the task runs to its end. A plain agent's ``execute`` needs seconds to get there, so
the daemon nearly always polls first; a fork of the zygote gets there in a fraction of a second,
so an abort right after the task turned ``in_progress`` (the web UI's button, a search stopped as
its trials start) was lost.

In each program the zygote forks, :func:`install` wraps the ``send_request`` of the SDK's and the
agent's API sessions: before a ``tasks.started`` of the program's own task it reads the task, and
if an abort is pending it sends the call with the abort's "stopping" message and reason (the
status becomes or stays ``in_progress``), so the daemon's next poll stops the task as it would
have. Other calls, other tasks and other programs are untouched; the price is one ``tasks.get_all``
per ``tasks.started`` (two or three a trial). An abort landing between that read and the write is
still erased on ClearML's server; the embedded one keeps a pending abort through ``tasks.started``
itself (:func:`hpo.server.domain.abort_pending`), which closes that gap.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

STOPPING = "stopping"  # what tasks.stop writes and the agent's TaskStopSignal looks for
# The statuses on which the agent's TaskStopSignal stops a running task (its unexpected_statuses).
ENDED = frozenset({"stopped", "failed", "closed", "published", "queued"})
SESSIONS = ("clearml.backend_api.session.session", "clearml_agent.backend_api.session.session")
_FIELDS = ["status", "status_message", "status_reason"]


def task_of(args: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The task a program runs: ``execute ... --id ID`` for the agent's child, else ``$CLEARML_TASK_ID``."""
    if "execute" in args and "--id" in args:
        i = list(args).index("--id")
        return args[i + 1] if i + 1 < len(args) else None
    return env.get("CLEARML_TASK_ID") or env.get("TRAINS_TASK_ID") or None


def install(task_id: str | None) -> None:
    """In a forked program: guard the ``tasks.started`` calls for ``task_id`` (its own task)."""
    if task_id:
        _guard(task_id, ENDED)


def install_daemon() -> None:
    """In the agent's daemon: guard its ``tasks.started`` of every task it pulls.

    The daemon marks a task started twice ("pulled by agent", "launch by agent") before it starts
    the task's program, which erases an abort landing in between just the same; there ``queued``
    is the normal status (the task was just pulled from its queue), not an abort.
    """
    import importlib

    importlib.import_module(SESSIONS[1])
    _guard(None, ENDED - {"queued"})


def _guard(task_id: str | None, ended: frozenset[str]) -> None:
    for name in SESSIONS:
        module = sys.modules.get(name)
        if module is not None:
            _wrap(module.Session, task_id, ended)


def _wrap(cls: Any, task_id: str | None, ended: frozenset[str]) -> None:
    original: Callable[..., Any] = cls.send_request

    def send_request(self: Any, service: str, action: str, *args: Any, **kwargs: Any) -> Any:
        body = kwargs.get("json")
        if service == "tasks" and action == "started" and isinstance(body, dict):
            task = body.get("task")
            if isinstance(task, str) and task_id in (None, task):
                kwargs["json"] = keeping_abort(body, _current(self, original, task), ended)
        return original(self, service, action, *args, **kwargs)

    cls.send_request = send_request


def _current(session: Any, send: Callable[..., Any], task_id: str) -> dict[str, Any] | None:
    """The task's status fields, or None when they cannot be read (the call then goes as it came)."""
    try:
        response = send(session, "tasks", "get_all", json={"id": [task_id], "only_fields": _FIELDS})
        tasks = response.json()["data"]["tasks"]
    except Exception:  # noqa: BLE001  # a guard must never break the call it guards
        return None
    return tasks[0] if tasks and isinstance(tasks[0], dict) else None


def keeping_abort(
    body: dict[str, Any], task: Mapping[str, Any] | None, ended: frozenset[str] = ENDED
) -> dict[str, Any]:
    """``body`` of a ``tasks.started`` call, changed to keep the abort ``task`` has pending (if any).

    Args:
        body: The call's JSON body.
        task: The task's ``status``, ``status_message`` and ``status_reason`` (None: unknown).
        ended: Statuses that mean the task was aborted (or ended) by someone else.
    """
    if task is None:
        return body
    status, message = task.get("status"), str(task.get("status_message") or "")
    if status == "in_progress" and STOPPING in message:
        kept = message
    elif status in ended:
        kept = f"{STOPPING} ({status}: {message})" if message else STOPPING
    else:
        return body
    return {**body, "status_message": kept, "status_reason": task.get("status_reason") or body.get("status_reason", "")}
