"""ClearML's queue and worker semantics where the embedded server used to differ, over real HTTP.

Issue 18: ``queues.remove_task(update_task_status)`` was ignored, a worker's registration
``timeout`` below the server's task timeout was not honoured, and worker tag filters needed all
tags where ClearML needs any. The reference is ClearML Server's ``bll/queue/queue_bll.py`` and
``bll/workers/__init__.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import RawAPI, running_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawAPI]:
    with running_api(Path(tmp_path_factory.mktemp("queues")) / "server") as client:
        yield client


def _enqueued(api: RawAPI, queue: str) -> str:
    task = api.call("tasks.create", {"name": "waiting", "type": "training"})["id"]
    api.call("tasks.enqueue", {"task": task, "queue": queue})
    return str(task)


def _workers(api: RawAPI, prefix: str, **body: object) -> list[str]:
    found = api.call("workers.get_all", body)["workers"]
    return sorted(w["id"] for w in found if w["id"].startswith(prefix))


def test_remove_task_with_update_task_status_returns_it_to_created(api: RawAPI) -> None:
    queue = api.call("queues.create", {"name": "remove-status"})["id"]
    kept, reset = _enqueued(api, queue), _enqueued(api, queue)
    assert api.call("queues.remove_task", {"queue": queue, "task": kept})["removed"] == 1
    assert api.call("queues.remove_task", {"queue": queue, "task": reset, "update_task_status": True})["removed"] == 1
    plain = api.call("tasks.get_by_id", {"task": kept})["task"]
    updated = api.call("tasks.get_by_id", {"task": reset})["task"]
    assert plain["status"] == "queued"  # without the flag ClearML changes the queue only
    assert updated["status"] == "created" and updated["execution"]["queue"] is None
    assert queue in updated["status_reason"]
    assert api.call("queues.get_by_id", {"queue": queue})["queue"]["entries"] == []


def test_remove_task_not_in_the_queue_is_an_error(api: RawAPI) -> None:
    queue = api.call("queues.create", {"name": "remove-missing"})["id"]
    task = api.call("tasks.create", {"name": "idle", "type": "training"})["id"]
    answer = api.raw("queues.remove_task", {"queue": queue, "task": task, "update_task_status": True})
    assert (answer.status_code, answer.json()["meta"]["result_subcode"]) == (400, 703)
    assert api.call("tasks.get_by_id", {"task": task})["task"]["status"] == "created"


def test_worker_timeout_below_the_task_timeout_is_honoured(api: RawAPI) -> None:
    api.call("workers.register", {"worker": "to-short", "timeout": 2})
    api.call("workers.register", {"worker": "to-default"})
    assert _workers(api, "to-") == ["to-default", "to-short"]
    time.sleep(1.2)
    api.call("workers.status_report", {"worker": "to-short", "timestamp": int(time.time() * 1000)})
    time.sleep(1.2)  # 2.4 s since registering, 1.2 s since the report: still registered
    assert _workers(api, "to-") == ["to-default", "to-short"]
    time.sleep(1.5)  # 2.7 s since its last report
    assert _workers(api, "to-") == ["to-default"]


def test_worker_register_refuses_a_negative_timeout(api: RawAPI) -> None:
    answer = api.raw("workers.register", {"worker": "to-negative", "timeout": -5})
    assert (answer.status_code, answer.json()["meta"]["result_subcode"]) == (400, 1002)
    assert _workers(api, "to-negative") == []


def test_worker_tag_filters_match_any_tag(api: RawAPI) -> None:
    api.call("workers.register", {"worker": "tag-gpu", "tags": ["gpu"], "system_tags": ["pool"]})
    api.call("workers.register", {"worker": "tag-cpu", "tags": ["cpu"]})
    api.call("workers.register", {"worker": "tag-big", "tags": ["gpu", "big"]})
    assert _workers(api, "tag-", tags=["gpu", "cpu"]) == ["tag-big", "tag-cpu", "tag-gpu"]
    assert _workers(api, "tag-", tags=["big"]) == ["tag-big"]
    assert _workers(api, "tag-", tags=["-gpu"]) == ["tag-cpu"]
    assert _workers(api, "tag-", tags=["gpu", "-big"]) == ["tag-gpu"]
    assert _workers(api, "tag-", tags=["gpu", "cpu"], system_tags=["pool"]) == ["tag-gpu"]
    assert _workers(api, "tag-", tags=["nothing"]) == []


def test_queue_entry_errors_use_clearml_subcodes(api: RawAPI) -> None:
    queue = api.call("queues.create", {"name": "entry-errors"})["id"]
    task = _enqueued(api, queue)
    twice = api.raw("queues.add_task", {"queue": queue, "task": task})
    assert (twice.status_code, twice.json()["meta"]["result_subcode"]) == (400, 706)  # task_already_queued
    other = api.call("tasks.create", {"name": "elsewhere", "type": "training"})["id"]
    moved = api.raw("queues.move_task_to_front", {"queue": queue, "task": other})
    assert (moved.status_code, moved.json()["meta"]["result_subcode"]) == (400, 703)  # not in the queue
