"""``queues.*``: named FIFO queues of task ids that agents pull from.

A queue document keeps its entries in order (``entries: [{task, added}]``). Queues are created
explicitly (``queues.create``) or by ``queues.get_default``; ``tasks.enqueue`` never creates one.
"""

from __future__ import annotations

from hpo.server._errors import APIError, invalid_id
from hpo.server._query import FieldRules, run_query
from hpo.server._router import Call, Data, Router, new_id, now_iso
from hpo.server.routes._common import owner_fields, require, tag_list
from hpo.server.store import Store

router = Router()

RULES = FieldRules(patterns=("name",), values=("id", "user"), tags=("tags", "system_tags"))
DEFAULT_QUEUE = "default"


def _by_name(store: Store, name: str) -> Data | None:
    return next((q for q in store.queues if q["name"] == name), None)


def resolve(call: Call, queue_id: str | None, queue_name: str | None) -> Data:
    """The queue a request names by id or by name (no queue named: the default queue)."""
    if queue_id:
        queue = call.store.queues.get(queue_id) or _by_name(call.store, queue_id)
        if queue is None:
            raise invalid_id("queue", queue_id)
        return queue
    if queue_name:
        queue = _by_name(call.store, queue_name)
        if queue is None:
            raise APIError(400, 701, f"Invalid queue id: no queue named {queue_name!r} (create it first)")
        return queue
    return _default_queue(call)


def _default_queue(call: Call) -> Data:
    queue = next((q for q in call.store.queues if "default" in q.get("system_tags", [])), None)
    return queue or create_queue(call, DEFAULT_QUEUE, system_tags=["default"])


def create_queue(call: Call, name: str, tags: list[str] | None = None, system_tags: list[str] | None = None) -> Data:
    if _by_name(call.store, name) is not None:
        raise APIError(400, 707, f"Queue with this name already exists: name={name}")
    queue = {"id": new_id(), "name": name, "tags": tags or [], "system_tags": system_tags or [], "entries": [],
             "metadata": {}, **owner_fields(call)}  # fmt: skip
    call.store.queues.put(queue)
    return queue


def add_entry(store: Store, queue_id: str, task_id: str) -> None:
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
            store.queues.put(changed)
            removed = True
    return removed


@router.endpoint("queues.create")
def create(call: Call) -> Data:
    queue = create_queue(call, call.text("name"), tag_list(call, "tags"), tag_list(call, "system_tags"))
    return {"id": queue["id"]}


@router.endpoint("queues.get_by_id")
def get_by_id(call: Call) -> Data:
    return {"queue": require(call.store.queues, "queue", call.text("queue"))}


@router.endpoint("queues.get_all", "queues.get_all_ex")
def get_all(call: Call) -> Data:
    queues, extra = run_query(call.store.queues, dict(call.body), RULES)
    return {"queues": queues, **extra}


@router.endpoint("queues.get_default")
def get_default(call: Call) -> Data:
    queue = _default_queue(call)
    return {"id": queue["id"], "name": queue["name"]}
