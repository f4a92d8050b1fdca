"""``tasks.*_many``, ``tasks.move`` and ``tasks.update_tags`` as ClearML Server answers them.

ClearML Server's ``apiserver/tests/automated/test_batch_operations.py`` is the model: a batch applies
the single endpoint to each id, lists what it could not apply with ClearML's error, and keeps the
rest. Over HTTP in process, and through the SDK's own ``APIClient`` on a real server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hpo.server._errors import APIError
from hpo.server.store import Database, Event, Store
from tests.support.api import InProcess, in_process_app
from tests.support.server import Env

MISSING = "0" * 32


class TaskAPI(InProcess):
    def task(self, name: str = "t", **extra: Any) -> str:
        return str(self.call("tasks.create", {"name": name, "type": "training", **extra})["id"])

    def get(self, task_id: str) -> dict[str, Any]:
        return dict(self.call("tasks.get_by_id", {"task": task_id})["task"])

    def status(self, *ids: str) -> list[str]:
        return [self.get(i)["status"] for i in ids]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TaskAPI]:
    with in_process_app(tmp_path / "server") as (client, token):
        yield TaskAPI(client, token)


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items}


def test_batch_lifecycle_applies_to_tasks_and_lists_the_missing_id(api: TaskAPI) -> None:
    tasks = [api.task("a"), api.task("b")]
    ids = [*tasks, MISSING]
    queue = api.call("queues.create", {"name": "q"})["id"]
    res = api.call("tasks.enqueue_many", {"ids": ids, "queue": queue})
    assert _ids(res["succeeded"]) == set(tasks) and _ids(res["failed"]) == {MISSING}
    assert res["queue_watched"] is False and all(item["queued"] for item in res["succeeded"])
    assert res["failed"][0]["error"]["codes"] == [400, 101]
    assert api.status(*tasks) == ["queued", "queued"]
    for task in tasks:
        api.call("tasks.started", {"task": task})
    res = api.call("tasks.stop_many", {"ids": ids})
    assert _ids(res["succeeded"]) == set(tasks) and _ids(res["failed"]) == {MISSING}
    assert api.status(*tasks) == ["stopped", "stopped"]
    res = api.call("tasks.publish_many", {"ids": ids, "publish_model": False})
    assert _ids(res["succeeded"]) == set(tasks) and api.status(*tasks) == ["published", "published"]
    res = api.call("tasks.reset_many", {"ids": ids, "force": True})
    assert _ids(res["succeeded"]) == set(tasks) and api.status(*tasks) == ["created", "created"]
    res = api.call("tasks.archive_many", {"ids": ids})
    assert _ids(res["succeeded"]) == set(tasks) and _ids(res["failed"]) == {MISSING}
    assert all("archived" in api.get(t)["system_tags"] for t in tasks)
    res = api.call("tasks.unarchive_many", {"ids": ids})
    assert [item["unarchived"] for item in res["succeeded"]] == [True, True]
    assert not any("archived" in api.get(t)["system_tags"] for t in tasks)
    res = api.call("tasks.delete_many", {"ids": ids})
    assert [item["deleted"] for item in res["succeeded"]] == [True, True] and _ids(res["failed"]) == {MISSING}
    assert api.call("tasks.get_all", {"id": tasks})["tasks"] == []


def test_a_mix_applies_where_the_single_endpoint_allows_and_names_the_reason_elsewhere(api: TaskAPI) -> None:
    draft, running, done = api.task("draft"), api.task("running"), api.task("done")
    api.call("tasks.started", {"task": running})
    api.call("tasks.started", {"task": done})
    api.call("tasks.completed", {"task": done})
    res = api.call("tasks.stop_many", {"ids": [draft, running, done]})
    assert _ids(res["succeeded"]) == {running}
    reasons = {item["id"]: item["error"] for item in res["failed"]}
    assert set(reasons) == {draft, done}
    assert reasons[done]["codes"] == [400, 110] and "'completed'" in reasons[done]["msg"]
    assert api.status(draft, running, done) == ["created", "stopped", "completed"]
    res = api.call("tasks.delete_many", {"ids": [draft, done]})  # only a draft or archived task goes without force
    assert _ids(res["succeeded"]) == {draft} and _ids(res["failed"]) == {done}
    assert "archive it first" in res["failed"][0]["error"]["msg"]
    assert api.get(done)["status"] == "completed"


def test_dequeue_many_returns_queued_tasks_to_draft_and_refuses_drafts(api: TaskAPI) -> None:
    queue = api.call("queues.create", {"name": "q"})["id"]
    queued, draft = api.task("queued"), api.task("draft")
    api.call("tasks.enqueue", {"task": queued, "queue": queue})
    res = api.call("tasks.dequeue_many", {"ids": [queued, draft]})
    assert res["succeeded"][0]["id"] == queued and res["succeeded"][0]["dequeued"] is True
    assert _ids(res["failed"]) == {draft}
    assert api.call("queues.get_by_id", {"queue": queue})["queue"]["entries"] == []
    assert api.status(queued) == ["created"]


def test_move_to_a_project_by_name_creates_it_and_to_null_detaches(api: TaskAPI) -> None:
    a, b = api.task("a"), api.task("b")
    res = api.call("tasks.move", {"ids": [a, b], "project_name": "moved/here"})
    project = res["project_id"]
    assert api.call("projects.get_by_id", {"project": project})["project"]["name"] == "moved/here"
    assert {api.get(a)["project"], api.get(b)["project"]} == {project}
    api.call("tasks.move", {"ids": [a], "project": None})
    assert api.get(a).get("project") is None
    api.call("tasks.move", {"ids": [b], "project": ""})
    assert api.get(b).get("project") is None
    refused = api.refused("tasks.move", {"ids": [a, MISSING], "project": project}, 101)
    assert MISSING in refused and api.get(a).get("project") is None  # all or nothing, as ClearML
    api.refused("tasks.move", {"ids": [a]}, 11)


def test_update_tags_adds_and_removes_keeping_order(api: TaskAPI) -> None:
    a, b = api.task("a", tags=["x", "old"]), api.task("b", tags=["y"])
    res = api.call("tasks.update_tags", {"ids": [a, b], "add_tags": ["new", "x"], "remove_tags": ["old"]})
    assert res == {"updated": 2}
    assert api.get(a)["tags"] == ["x", "new"] and api.get(b)["tags"] == ["y", "new", "x"]
    assert api.call("tasks.update_tags", {"ids": [a], "add_tags": ["x"]}) == {"updated": 0}


def test_a_refused_item_leaves_its_task_and_models_as_they_were(api: TaskAPI) -> None:
    """reset refuses a completed task with a published output model and deletes none of it."""
    task = api.task("p")
    model = api.call("models.create", {"name": "m", "uri": "http://x/m", "task": task, "ready": True})["id"]
    api.call("tasks.add_or_update_model", {"task": task, "name": "m", "model": model, "type": "output"})
    api.call("tasks.started", {"task": task})
    api.call("tasks.completed", {"task": task})
    res = api.call("tasks.reset_many", {"ids": [task]})
    assert _ids(res["failed"]) == {task}
    assert api.get(task)["status"] == "completed"
    assert api.call("models.get_by_id", {"model": model})["model"]["id"] == model


def test_store_savepoint_drops_only_what_the_failed_item_staged(tmp_path: Path) -> None:
    """The unit under every batch: a raising block un-stages its writes, earlier items stay staged."""
    store = Store(Database(tmp_path / "server.db"))
    store.events.add([Event("kept", "log", "", "", 0, 1, None, {"msg": "x"})])
    store.commit()
    store.tasks.put({"id": "kept", "name": "first item"})
    with pytest.raises(APIError), store.savepoint():
        store.tasks.put({"id": "dropped", "name": "second item"})
        store.tasks.delete("kept")
        store.events.delete_for("kept")
        raise APIError(400, 110, "refused half-way")
    assert store.tasks.get("kept") == {"id": "kept", "name": "first item"} and store.tasks.get("dropped") is None
    store.commit()
    assert [t["id"] for t in store.tasks] == ["kept"]
    assert store.events.count("kept", "log") == 1  # the staged DELETE went with the failed item
    store.db.close()


SDK_SCRIPT = """
import json
from clearml import Task
from clearml.backend_api.session.client import APIClient

a = Task.create(project_name="many", task_name="a")
b = Task.create(project_name="many", task_name="b")
client = APIClient()
missing = "0" * 32


def ids(items):  # the SDK builds typed items for some responses, plain dicts for others
    return sorted(i["id"] if isinstance(i, dict) else i.id for i in items)


archived = client.tasks.archive_many(ids=[a.id, b.id, missing])
unarchived = client.tasks.unarchive_many(ids=[a.id])
enqueued = client.tasks.enqueue_many(ids=[a.id, b.id], queue_name="many-q")
stopped = client.tasks.stop_many(ids=[a.id, missing])
client.tasks.move(ids=[b.id], project_name="many/other")
b.reload()
print("RESULT " + json.dumps({
    "archived": ids(archived.succeeded), "failed": ids(archived.failed),
    "reason": archived.failed[0]["error"]["msg"], "unarchived": [i["unarchived"] for i in unarchived.succeeded],
    "enqueued": ids(enqueued.succeeded), "enqueue_failed": ids(enqueued.failed), "stopped": ids(stopped.succeeded),
    "status": a.get_status(), "b_project": b.get_project_name(),
    "ids": sorted([a.id, b.id]), "a": a.id,
}))
"""


def test_sdk_api_client_batch_calls(clearml: Env) -> None:
    """The SDK's APIClient builds ClearML's request and response classes around the batch endpoints."""
    clearml.run("from clearml.backend_api.session.client import APIClient\nAPIClient().queues.create(name='many-q')\n")
    out = clearml.run(SDK_SCRIPT).result
    assert out["archived"] == out["ids"] and out["failed"] == ["0" * 32] and "Invalid task id" in out["reason"]
    assert out["unarchived"] == [True]
    # b is still archived: enqueue takes an archived draft as ClearML does (archive is a tag, not a status)
    assert out["enqueued"] == out["ids"] and out["enqueue_failed"] == []
    assert out["stopped"] == [out["a"]] and out["status"] == "stopped"
    assert out["b_project"] == "many/other"
