"""``workers.*``: agents that register, report status and pull tasks from queues.

Workers live in memory (``call.runtime.workers``), as ClearML Server keeps them in Redis: a
restart forgets them, and an agent's next status report registers it again. Each entry holds the
raw state (queue ids, current task id, the time it was last heard from); responses expand it into
ClearML's worker shape. As in ClearML, a worker is listed only while its registration ``timeout``
(any positive number of seconds, 600 by default) has not passed since its last ``register`` or
``status_report``; the watchdog then forgets it. What happens to tasks whose worker goes silent is
in ``hpo/server/domain/_watchdog.py``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from hpo.server._errors import APIError, invalid_id, validation
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.domain import DEFAULT_TIMEOUT_S, expired
from hpo.server.routes._common import tag_list

router = Router()


def _worker_id(call: Call) -> str:
    worker = call.text("worker")
    if not worker.strip():
        raise validation("'worker' must not be empty")
    return worker


def _timeout(call: Call) -> int:
    timeout = call.integer("timeout") or DEFAULT_TIMEOUT_S  # 0 or none: ClearML's default
    if timeout < 0:
        raise APIError(400, 1002, f"Worker registration failed: invalid timeout {timeout}; give seconds > 0")
    return timeout


def _register(call: Call, worker_id: str) -> Data:
    """A fresh entry for ``worker_id`` (kept runtime properties survive a re-registration)."""
    old = call.runtime.workers.get(worker_id, {})
    now = now_iso()
    timeout = _timeout(call)
    entry: Data = {
        "id": worker_id,
        "user": call.identity.user,
        "company": call.identity.company,
        "ip": None,
        "register_time": now,
        "last_activity_time": now,
        "last_report_time": now,
        "timeout": timeout,
        "queues": [str(q) for q in call.items("queues")],
        "tags": tag_list(call, "tags"),
        "system_tags": tag_list(call, "system_tags"),
        "task": None,
        "queue": None,
        "machine_stats": {},
        "runtime_properties": old.get("runtime_properties", {}),
        "seen": time.time(),
    }
    call.runtime.workers[worker_id] = entry
    return entry


def _touch(call: Call, worker_id: str) -> Data:
    entry = call.runtime.workers.get(worker_id) or _register(call, worker_id)
    entry["seen"] = time.time()
    entry["last_activity_time"] = now_iso()
    return entry


@router.endpoint("workers.register")
def register(call: Call) -> Data:
    _register(call, _worker_id(call))
    return {}


@router.endpoint("workers.unregister")
def unregister(call: Call) -> Data:
    worker_id = _worker_id(call)
    if call.runtime.workers.pop(worker_id, None) is None:
        raise invalid_id("worker", worker_id)
    return {}


@router.endpoint("workers.status_report")
def status_report(call: Call) -> Data:
    """Record what the worker runs now; the task remembers its worker (``last_worker``)."""
    entry = _touch(call, _worker_id(call))
    entry["last_report_time"] = entry["last_activity_time"]
    for key in ("queues", "tags", "system_tags"):
        if key in call.body:
            entry[key] = [str(v) for v in call.items(key)]
    entry["machine_stats"] = call.mapping("machine_stats") or {}
    task_id = call.opt_text("task")
    entry["task"] = task_id or None
    entry["queue"] = call.opt_text("queue") if task_id else None
    if task_id:
        task = call.store.tasks.get(task_id)
        stale = task is not None and str(task.get("last_worker_report") or "") < str(task.get("started") or "")
        if task is not None and (task.get("last_worker") != entry["id"] or stale):
            edited = call.store.tasks.editable(task_id)
            assert edited is not None
            edited["last_worker"] = entry["id"]
            edited["last_worker_report"] = entry["last_report_time"]
            call.store.tasks.put(edited)
    return {}


@router.endpoint("workers.get_runtime_properties")
def get_runtime_properties(call: Call) -> Data:
    entry = _touch(call, _worker_id(call))
    props: dict[str, Data] = entry["runtime_properties"]
    return {"runtime_properties": list(props.values())}


@router.endpoint("workers.set_runtime_properties")
def set_runtime_properties(call: Call) -> Data:
    entry = _touch(call, _worker_id(call))
    for item in call.items("runtime_properties"):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise validation("each 'runtime_properties' entry must be an object with a string 'key'")
        entry["runtime_properties"][item["key"]] = {k: item[k] for k in ("key", "value", "expiry") if k in item}
    return {}


def _queue_entry(call: Call, queue_id: str | None) -> Data | None:
    if not queue_id:
        return None
    queue = call.store.queues.get(queue_id)
    if queue is None:
        return {"id": queue_id, "name": queue_id}
    entries = queue.get("entries", [])
    next_task = call.store.tasks.get(entries[0]["task"]) if entries else None
    return {
        "id": queue["id"],
        "name": queue["name"],
        "display_name": queue.get("display_name", queue["name"]),
        "next_task": {"id": next_task["id"], "name": next_task["name"]} if next_task else None,
        "num_tasks": len(entries),
    }


def _task_entry(call: Call, task_id: str | None) -> tuple[Data | None, Data | None]:
    task = call.store.tasks.get(task_id) if task_id else None
    if task is None:
        return None, None
    started = task.get("started")
    running = 0
    if started:
        running = max(0, int(time.time() - datetime.fromisoformat(started).timestamp()))
    project = call.store.projects.get(task["project"]) if task.get("project") else None
    return (
        {"id": task["id"], "name": task["name"], "running_time": running, "last_iteration": task.get("last_iteration")},
        {"id": project["id"], "name": project["name"]} if project else None,
    )


def render(call: Call, entry: Data) -> Data:
    """A worker in ClearML's response shape."""
    task, project = _task_entry(call, entry.get("task"))
    queues = [_queue_entry(call, q) for q in entry.get("queues", [])]
    return {
        "id": entry["id"],
        "key": entry["id"],
        "user": {"id": entry["user"], "name": entry["user"]},
        "company": {"id": entry["company"], "name": entry["company"]},
        "ip": entry.get("ip"),
        "register_time": entry["register_time"],
        "last_activity_time": entry["last_activity_time"],
        "last_report_time": entry["last_report_time"],
        "queues": [q for q in queues if q],
        "queue": _queue_entry(call, entry.get("queue")) if task else None,
        "task": task,
        "project": project,
        "tags": entry.get("tags", []),
        "system_tags": entry.get("system_tags", []),
    }


@router.endpoint("workers.get_all")
def get_all(call: Call) -> Data:
    last_seen = call.integer("last_seen")
    now = time.time()
    workers = [
        w
        for w in call.runtime.workers.values()
        if not expired(w, now) and (last_seen is None or last_seen <= 0 or now - w["seen"] <= max(1, last_seen))
    ]
    tags = [str(t) for t in call.items("tags")]
    system_tags = [str(t) for t in call.items("system_tags")]
    workers = [w for w in workers if tags_match(w.get("tags", []), tags)]
    workers = [w for w in workers if tags_match(w.get("system_tags", []), system_tags)]
    return {"workers": [render(call, w) for w in sorted(workers, key=lambda w: str(w["id"]))]}


def tags_match(have: list[str], wanted: list[str]) -> bool:
    """ClearML's worker tag filter: ANY of the wanted tags, and none of the ``-tag`` exclusions.

    ``bll/workers`` unions the workers of each included tag and removes those of each excluded
    one (tags and system tags are then intersected by the caller).
    """
    include = [t for t in wanted if not t.startswith("-")]
    exclude = [t[1:] for t in wanted if t.startswith("-")]
    return (not include or any(t in have for t in include)) and not any(t in have for t in exclude)


@router.endpoint("workers.get_metric_keys")
def get_metric_keys(call: Call) -> Data:
    ids = set(call.items("worker_ids"))
    keys: set[str] = set()
    for worker in call.runtime.workers.values():
        if not ids or worker["id"] in ids:
            keys.update(k for k, v in worker.get("machine_stats", {}).items() if isinstance(v, int | float | list))
    return {"categories": [{"name": "stats", "metric_keys": sorted(keys)}] if keys else []}


def _latest_value(value: Any) -> float | None:
    if isinstance(value, list):
        numbers = [v for v in value if isinstance(v, int | float)]
        return sum(numbers) / len(numbers) if numbers else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@router.endpoint("workers.get_stats")
def get_stats(call: Call) -> Data:
    """The latest reported machine stats of each worker, as one point (no history is kept)."""
    ids = set(call.items("worker_ids"))
    wanted = [i.get("key") for i in call.items("items") if isinstance(i, dict)]
    now = int(time.time())
    out = []
    for worker in call.runtime.workers.values():
        if ids and worker["id"] not in ids:
            continue
        metrics = []
        for key in wanted:
            value = _latest_value(worker.get("machine_stats", {}).get(key))
            if value is not None:
                stats = [{"aggregation": agg, "values": [value]} for agg in ("avg", "min", "max")]
                metrics.append({"metric": key, "dates": [now], "stats": stats})
        out.append({"worker": worker["id"], "metrics": metrics})
    return {"workers": out}


@router.endpoint("workers.get_activity_report")
def get_activity_report(call: Call) -> Data:
    """How many workers are known and how many run a task, now (no history is kept)."""
    now = int(time.time())
    workers = list(call.runtime.workers.values())
    active = sum(1 for w in workers if w.get("task"))
    return {"total": {"dates": [now], "counts": [len(workers)]}, "active": {"dates": [now], "counts": [active]}}
