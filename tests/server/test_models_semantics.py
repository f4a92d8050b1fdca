"""ClearML's model semantics where the embedded server used to differ, over real HTTP (issue 18).

The high-level SDK never sends these shapes (it always passes ``ready: false``, and never
``publish_model: false``), so each case is checked on the wire against one real server; the
reference is ClearML Server's ``apiserver/bll/model`` and ``bll/task/task_operations.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import RawAPI, running_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawAPI]:
    with running_api(Path(tmp_path_factory.mktemp("models")) / "server") as client:
        yield client


def _model(api: RawAPI, model_id: str) -> dict[str, Any]:
    return dict(api.call("models.get_by_id", {"model": model_id})["model"])


def _task_with_outputs(api: RawAPI, count: int) -> tuple[str, list[str]]:
    """A stopped task with ``count`` draft output models, in the order they were attached."""
    task = api.call("tasks.create", {"name": "producer", "type": "training"})["id"]
    api.call("tasks.started", {"task": task})
    models = []
    for i in range(count):
        model = api.call("models.create", {"name": f"m{i}", "uri": f"http://x/m{i}.bin", "task": task, "ready": False})
        api.call("tasks.add_or_update_model", {"task": task, "name": f"m{i}", "model": model["id"], "type": "output"})
        models.append(model["id"])
    api.call("tasks.stopped", {"task": task})
    return task, models


def test_create_without_ready_registers_a_ready_model(api: RawAPI) -> None:
    default = api.call("models.create", {"name": "imported", "uri": "http://x/a.bin"})["id"]
    draft = api.call("models.create", {"name": "draft", "uri": "http://x/b.bin", "ready": False})["id"]
    assert _model(api, default)["ready"] is True
    assert _model(api, draft)["ready"] is False


def test_set_ready_on_a_ready_model_fails_as_model_is_ready(api: RawAPI) -> None:
    model = api.call("models.create", {"name": "once", "uri": "http://x/c.bin", "ready": False})["id"]
    assert api.call("models.set_ready", {"model": model})["updated"] == 1
    again = api.raw("models.set_ready", {"model": model})
    meta = again.json()["meta"]
    assert (again.status_code, meta["result_code"], meta["result_subcode"]) == (400, 400, 203)
    assert model in meta["result_msg"]
    batch = api.call("models.publish_many", {"ids": [model]})
    assert batch["succeeded"] == [] and batch["failed"][0]["error"]["codes"] == [400, 203]
    assert _model(api, model)["ready"] is True


def test_publish_task_without_publish_model_leaves_models_draft(api: RawAPI) -> None:
    task, models = _task_with_outputs(api, 1)
    api.call("tasks.publish", {"task": task, "publish_model": False})
    assert api.call("tasks.get_by_id", {"task": task})["task"]["status"] == "published"
    assert _model(api, models[0])["ready"] is False
    # the model can still be published on its own, its task staying as it is
    assert "published_task" not in api.call("models.set_ready", {"model": models[0]})
    assert _model(api, models[0])["ready"] is True


def test_publish_task_publishes_its_last_output_model_only(api: RawAPI) -> None:
    task, models = _task_with_outputs(api, 2)
    api.call("tasks.publish", {"task": task})
    assert [_model(api, m)["ready"] for m in models] == [False, True]


def test_update_for_task_raises_the_task_iteration(api: RawAPI) -> None:
    task = api.call("tasks.create", {"name": "trainer", "type": "training"})["id"]
    api.call("tasks.started", {"task": task})
    first = api.call("models.update_for_task", {"task": task, "uri": "http://x/it.bin", "iteration": 7})
    assert api.call("tasks.get_by_id", {"task": task})["task"]["last_iteration"] == 7
    # a lower iteration never moves it back (ClearML's last_iteration_max)
    api.call("models.update_for_task", {"task": task, "override_model_id": first["id"], "iteration": 3})
    assert api.call("tasks.get_by_id", {"task": task})["task"]["last_iteration"] == 7
    api.call("models.update_for_task", {"task": task, "override_model_id": first["id"], "iteration": 9})
    assert api.call("tasks.get_by_id", {"task": task})["task"]["last_iteration"] == 9
