"""``queues.*``: named FIFO queues of task ids that agents pull from.

A queue document keeps its entries in order (``entries: [{task, added}]``). Queues are created
explicitly (``queues.create``) or by ``queues.get_default``; ``tasks.enqueue`` never creates one.
An entry only says where a task waits: the task's status (``queued``) is changed by ``tasks.*``,
and ``queues.get_next_task`` pops the first entry whose task is still queued, leaving the status
to the agent's ``tasks.started``. The entry rules themselves are the domain's
(``hpo.server.domain``), which ``tasks.*`` and ``projects.*`` use too.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from hpo.server import domain
from hpo.server._errors import APIError, invalid_id, validation
from hpo.server._query import FieldRules, run_query
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.routes._common import owner_fields, require, tag_list, updated

router = Router()

RULES = FieldRules(patterns=("name",), values=("id", "user"), tags=("tags", "system_tags"))


def _queue(call: Call) -> Data:
    """The request's ``queue`` (an id; a name is accepted too, as the agent sometimes sends one)."""
    queue_id = call.text("queue")
    queue = call.store.queues.get(queue_id) or domain.queue_by_name(call.store, queue_id)
    if queue is None:
        raise invalid_id("queue", queue_id)
    edited = call.store.queues.editable(queue["id"])
    assert edited is not None
    return edited


def _limited(queue: Data, max_entries: int | None) -> Data:
    if max_entries is None or max_entries < 0:
        return queue
    return {**queue, "entries": queue.get("entries", [])[:max_entries]}


@router.endpoint("queues.create")
def create(call: Call) -> Data:
    name, owner = call.text("name"), owner_fields(call)
    queue = domain.create_queue(call.store, name, owner, tag_list(call, "tags"), tag_list(call, "system_tags"))
    return {"id": queue["id"]}


@router.endpoint("queues.get_by_id")
def get_by_id(call: Call) -> Data:
    queue = require(call.store.queues, "queue", call.text("queue"))
    return {"queue": _limited(queue, call.integer("max_task_entries"))}


@router.endpoint("queues.get_all", "queues.get_all_ex")
def get_all(call: Call) -> Data:
    queues, extra = run_query(call.store.queues, dict(call.body), RULES)
    limit = call.integer("max_task_entries")
    return {"queues": [_limited(q, limit) if "entries" in q else q for q in queues], **extra}


@router.endpoint("queues.get_default")
def get_default(call: Call) -> Data:
    queue = domain.default_queue(call.store, owner_fields(call))
    return {"id": queue["id"], "name": queue["name"]}


@router.endpoint("queues.update")
def update(call: Call) -> Data:
    queue = _queue(call)
    fields: Data = {}
    name = call.opt_text("name")
    if name is not None and name != queue["name"]:
        if domain.queue_by_name(call.store, name) is not None:
            raise APIError(400, 707, f"Queue with this name already exists: name={name}")
        fields["name"] = fields["display_name"] = name
    for key in ("tags", "system_tags"):
        if key in call.body:
            fields[key] = tag_list(call, key)
    queue.update(fields, last_update=now_iso())
    call.store.queues.put(queue)
    return updated(fields, 1 if fields else 0)


@router.endpoint("queues.delete")
def delete(call: Call) -> Data:
    """Delete a queue; a non-empty one only with ``force``, its tasks going back to ``created``."""
    queue = _queue(call)
    entries = queue.get("entries", [])
    if entries and not call.flag("force"):
        raise APIError(400, 702, f"Queue not empty: queue {queue['name']!r} holds {len(entries)} task(s); pass force")
    for entry in entries:
        task = call.store.tasks.editable(entry["task"])
        if task is not None and task.get("status") == "queued":
            domain.set_status(task, "created", reason="queue deleted")
            task["execution"] = {**task.get("execution", {}), "queue": None}
            call.store.tasks.put(task)
    call.store.queues.delete(queue["id"])
    return {"deleted": 1}


@router.endpoint("queues.add_task")
def add_task(call: Call) -> Data:
    queue = _queue(call)
    task = require(call.store.tasks, "task", call.text("task"))
    if any(e["task"] == task["id"] for e in queue.get("entries", [])):
        raise APIError(400, 706, f"Task already queued: task {task['id']} is in queue {queue['name']!r}")
    domain.add_entry(call.store, queue["id"], task["id"])
    return {"added": 1}


@router.endpoint("queues.remove_task")
def remove_task(call: Call) -> Data:
    """Take a task out of a queue; with ``update_task_status`` it leaves ``queued`` as in ClearML.

    The task goes back to the status it was enqueued from (``enqueue_status``), else ``created``,
    when this queue is the one it waits in (``execution.queue``), as ClearML's ``queue_bll``.
    """
    queue = _queue(call)
    task_id = call.text("task")
    update_status = call.flag("update_task_status")
    kept = [e for e in queue.get("entries", []) if e["task"] != task_id]
    removed = len(queue.get("entries", [])) - len(kept)
    if not removed:
        raise APIError(400, 703, f"Invalid queue or task not queued: task {task_id} is not in queue {queue['name']!r}")
    queue.update(entries=kept, last_update=now_iso())
    call.store.queues.put(queue)
    task = call.store.tasks.editable(task_id)
    if update_status and task is not None and (task.get("execution") or {}).get("queue") == queue["id"]:
        status = task.get("enqueue_status") or "created"
        domain.set_status(task, status, reason=f"Task was removed from the queue {queue['id']}")
        task["enqueue_status"] = None
        task["execution"] = {**task.get("execution", {}), "queue": None}
        call.store.tasks.put(task)
    return {"removed": removed}


def _move(call: Call, position: Any) -> Data:
    """Move the request's task to the index ``position(old_index, length)`` returns."""
    queue = _queue(call)
    task_id = call.text("task")
    entries = list(queue.get("entries", []))
    index = next((i for i, e in enumerate(entries) if e["task"] == task_id), None)
    if index is None:
        raise APIError(400, 703, f"Invalid queue or task not queued: task {task_id} is not in queue {queue['name']!r}")
    entry = entries.pop(index)
    new_index = max(0, min(len(entries), int(position(index, len(entries)))))
    entries.insert(new_index, entry)
    queue.update(entries=entries, last_update=now_iso())
    call.store.queues.put(queue)
    return {"position": new_index}


def _count(call: Call) -> int:
    count = call.integer("count", 1)
    assert count is not None
    if count < 1:
        raise validation(f"'count' must be at least 1, got {count}")
    return count


@router.endpoint("queues.move_task_forward")
def move_task_forward(call: Call) -> Data:
    count = _count(call)
    return _move(call, lambda index, _n: index - count)


@router.endpoint("queues.move_task_backward")
def move_task_backward(call: Call) -> Data:
    count = _count(call)
    return _move(call, lambda index, _n: index + count)


@router.endpoint("queues.move_task_to_front")
def move_task_to_front(call: Call) -> Data:
    return _move(call, lambda _index, _n: 0)


@router.endpoint("queues.move_task_to_back")
def move_task_to_back(call: Call) -> Data:
    return _move(call, lambda _index, n: n)


@router.endpoint("queues.get_num_entries")
def get_num_entries(call: Call) -> Data:
    return {"num": len(require(call.store.queues, "queue", call.text("queue")).get("entries", []))}


@router.endpoint("queues.peek_task")
def peek_task(call: Call) -> Data:
    entries = require(call.store.queues, "queue", call.text("queue")).get("entries", [])
    return {"task": entries[0]["task"] if entries else None}


@router.endpoint("queues.get_next_task")
def get_next_task(call: Call) -> Data:
    """Pop the first entry whose task is still queued (stale entries are dropped on the way).

    ``{}`` means the queue is empty: the agent reads ``data.entry.task``.
    """
    queue = _queue(call)
    wanted = call.opt_text("task")
    entries = list(queue.get("entries", []))
    picked: Data | None = None
    kept: list[Data] = []
    for entry in entries:
        task = call.store.tasks.get(entry["task"])
        if task is None or task.get("status") != "queued":
            continue  # deleted, dequeued or started elsewhere: drop the stale entry
        if picked is None and (wanted is None or entry["task"] == wanted):
            picked = entry
            continue
        kept.append(entry)
    if kept != entries:
        queue.update(entries=kept, last_update=now_iso())
        call.store.queues.put(queue)
    if picked is None:
        return {}
    result: Data = {"entry": picked}
    if call.flag("get_task_info"):
        task = call.store.tasks.get(picked["task"]) or {}
        result["task_info"] = {"company": task.get("company", ""), "user": task.get("user", "")}
    return result


def _waited_s(entry: Data, now: float) -> float:
    try:
        return max(0.0, now - datetime.fromisoformat(entry["added"]).timestamp())
    except (KeyError, TypeError, ValueError):
        return 0.0


@router.endpoint("queues.get_queue_metrics")
def get_queue_metrics(call: Call) -> Data:
    """The queues' length and mean waiting time now, as one point (no history is kept)."""
    interval = call.integer("interval", 1) or 1
    if interval < 1:
        raise validation(f"'interval' must be at least 1, got {interval}")
    now = time.time()
    ids = [str(i) for i in call.items("queue_ids")]
    queues = [require(call.store.queues, "queue", i) for i in ids] if ids else list(call.store.queues)
    out = []
    for queue in queues:
        entries = queue.get("entries", [])
        waits = [_waited_s(e, now) for e in entries]
        out.append(
            {
                "queue": queue["id"],
                "dates": [int(now) // interval * interval],
                "avg_waiting_times": [sum(waits) / len(waits) if waits else 0.0],
                "queue_lengths": [len(entries)],
            }
        )
    return {"queues": out}


def _metadata_items(call: Call) -> list[Data]:
    items = call.items("metadata")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise validation("each 'metadata' entry must be an object with a string 'key'")
    return items


@router.endpoint("queues.add_or_update_metadata")
def add_or_update_metadata(call: Call) -> Data:
    queue = _queue(call)
    items = _metadata_items(call)
    metadata: Data = {} if call.flag("replace_metadata") else dict(queue.get("metadata") or {})
    for item in items:
        metadata[item["key"]] = {k: item[k] for k in ("key", "type", "value") if k in item}
    queue.update(metadata=metadata, last_update=now_iso())
    call.store.queues.put(queue)
    return {"updated": 1}


@router.endpoint("queues.delete_metadata")
def delete_metadata(call: Call) -> Data:
    queue = _queue(call)
    metadata = {k: v for k, v in (queue.get("metadata") or {}).items() if k not in set(call.items("keys"))}
    queue.update(metadata=metadata, last_update=now_iso())
    call.store.queues.put(queue)
    return {"updated": 1}
