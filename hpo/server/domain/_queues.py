"""Queue entries, as ClearML Server's ``bll/queue``: which task waits in which queue, in order.

A queue document keeps its entries in order (``entries: [{task, added}]``). An entry only says
where a task waits; the task's status (``queued``) is the task rules' (:mod:`._tasks`). A task
waits in at most one queue: adding it again moves it to the back. Queues are created explicitly
or, for the default queue (system tag ``default``), on first use.
"""

from __future__ import annotations

from typing import Any

from hpo.server._errors import APIError, invalid_id, validation
from hpo.server._router import new_id, now_iso
from hpo.server.store import Store

Data = dict[str, Any]

DEFAULT_QUEUE = "default"


def queue_by_name(store: Store, name: str) -> Data | None:
    """The queue called ``name``, if any."""
    return next((q for q in store.queues if q["name"] == name), None)


def create_queue(
    store: Store, name: str, owner: Data, tags: list[str] | None = None, system_tags: list[str] | None = None
) -> Data:
    """Create and stage an empty queue.

    Args:
        store: Where to stage it.
        name: Its unique name.
        owner: ``user``, ``company``, ``created`` and ``last_update`` of the new document.
        tags: Its tags.
        system_tags: Its system tags (``default`` marks the default queue).

    Raises:
        APIError: ``name`` is empty (400, 12) or taken (400, 707).
    """
    if not name.strip():
        raise validation("queue 'name' must not be empty")
    if queue_by_name(store, name) is not None:
        raise APIError(400, 707, f"Queue with this name already exists: name={name}")
    queue = {"id": new_id(), "name": name, "display_name": name, "tags": tags or [], "system_tags": system_tags or [],
             "entries": [], "metadata": {}, **owner}  # fmt: skip
    store.queues.put(queue)
    return queue


def default_queue(store: Store, owner: Data) -> Data:
    """The queue tagged ``default``, created (named ``default``) when there is none."""
    queue = next((q for q in store.queues if DEFAULT_QUEUE in q.get("system_tags", [])), None)
    return queue or create_queue(store, DEFAULT_QUEUE, owner, system_tags=[DEFAULT_QUEUE])


def add_entry(store: Store, queue_id: str, task_id: str) -> None:
    """Put ``task_id`` at the back of the queue (out of its place in it, if it was there).

    Raises:
        APIError: No such queue (400, 701).
    """
    queue = store.queues.editable(queue_id)
    if queue is None:
        raise invalid_id("queue", queue_id)
    queue["entries"] = [e for e in queue["entries"] if e["task"] != task_id] + [{"task": task_id, "added": now_iso()}]
    queue["last_update"] = now_iso()
    store.queues.put(queue)


def remove_task_entry(store: Store, task: Data) -> bool:
    """Take ``task`` out of whatever queue holds it; True when it was queued."""
    removed = False
    for queue in list(store.queues):
        if any(e["task"] == task["id"] for e in queue.get("entries", [])):
            changed = store.queues.editable(queue["id"])
            assert changed is not None
            changed["entries"] = [e for e in changed["entries"] if e["task"] != task["id"]]
            changed["last_update"] = now_iso()
            store.queues.put(changed)
            removed = True
    return removed


def queue_of(store: Store, task_id: str) -> Data | None:
    """The queue whose entries hold ``task_id``, if any."""
    return next((q for q in store.queues if any(e["task"] == task_id for e in q.get("entries", []))), None)


def resolve_queue(store: Store, queue_id: str | None, queue_name: str | None, owner: Data) -> Data:
    """The queue a request names by id (or by name in the id, as the agent may send), else by name.

    No queue named at all: the default queue (:func:`default_queue`, created with ``owner``).

    Raises:
        APIError: No such queue (400, 701).
    """
    if queue_id:
        queue = store.queues.get(queue_id) or queue_by_name(store, queue_id)
        if queue is None:
            raise invalid_id("queue", queue_id)
        return queue
    if queue_name:
        queue = queue_by_name(store, queue_name)
        if queue is None:
            raise APIError(400, 701, f"Invalid queue id: no queue named {queue_name!r} (create it first)")
        return queue
    return default_queue(store, owner)
