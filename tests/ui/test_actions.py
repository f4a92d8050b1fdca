"""Actions go through the API's handlers: what ClearML refuses, the UI refuses, and changes nothing."""

from __future__ import annotations

from tests.support.ui import UI


def _task(ui: UI, task_id: str) -> dict:  # type: ignore[type-arg]
    return ui.api("tasks.get_by_id", {"task": task_id})["task"]  # type: ignore[no-any-return]


def _queue(ui: UI, name: str = "default") -> str:
    return str(ui.api("queues.create", {"name": name})["id"])


def test_clone_then_edit_keeps_types_and_enqueues(ui: UI) -> None:
    source = ui.task("src", lr=("0.1", "float"), epochs=("3", "int"), opt=("adam", "str"))
    queue = _queue(ui)
    ui.sign_in()
    response = ui.post(f"/ui/actions/tasks/{source}/clone", {"name": "my clone"})
    assert response.status_code == 303
    clone_id = response.headers["location"].split("/experiments/")[1].split("/")[0]
    clone = _task(ui, clone_id)
    assert clone["name"] == "my clone" and clone["parent"] == source and clone["status"] == "created"
    form = {"hp:General/lr": "0.25", "hp:General/epochs": "5", "hp:General/opt": "sgd", "queue": queue}
    saved = ui.post(f"/ui/actions/tasks/{clone_id}/edit", form)
    assert saved.status_code == 303
    clone = _task(ui, clone_id)
    params = clone["hyperparams"]["General"]
    assert (params["lr"]["value"], params["lr"]["type"]) == ("0.25", "float")
    assert (params["epochs"]["value"], params["epochs"]["type"]) == ("5", "int")
    assert clone["status"] == "queued" and clone["execution"]["queue"] == queue
    assert _task(ui, source)["hyperparams"]["General"]["lr"]["value"] == "0.1"


def test_wrong_typed_value_marks_the_field_and_changes_nothing(ui: UI) -> None:
    task_id = ui.task("draft", lr=("0.1", "float"), epochs=("3", "int"))
    queue = _queue(ui)
    ui.sign_in()
    response = ui.post(f"/ui/actions/tasks/{task_id}/edit",
                       {"hp:General/lr": "0.5", "hp:General/epochs": "three", "queue": queue})  # fmt: skip
    assert response.status_code == 400
    assert '<tr class="field-error"><td>epochs</td>' in response.text
    assert "General/epochs: &#39;three&#39; is not a valid int" in response.text
    assert 'value="three"' in response.text  # what the user typed comes back
    task = _task(ui, task_id)
    assert task["status"] == "created" and task["hyperparams"]["General"]["lr"]["value"] == "0.1"
    assert ui.api("queues.get_by_id", {"queue": queue})["queue"]["entries"] == []


def test_enqueue_a_completed_task_is_refused_the_clearml_way(ui: UI) -> None:
    task_id = ui.task("done")
    queue = _queue(ui)
    ui.api("tasks.started", {"task": task_id})
    ui.api("tasks.completed", {"task": task_id})
    ui.sign_in()
    response = ui.post(f"/ui/actions/tasks/{task_id}/enqueue", {"queue": queue})
    assert response.status_code == 400
    assert "Invalid task status" in response.text and "completed" in response.text
    assert _task(ui, task_id)["status"] == "completed"
    assert ui.api("queues.get_by_id", {"queue": queue})["queue"]["entries"] == []


def test_edit_of_a_non_draft_is_refused(ui: UI) -> None:
    task_id = ui.task("running", lr=("0.1", "float"))
    ui.api("tasks.started", {"task": task_id})
    ui.sign_in()
    response = ui.post(f"/ui/actions/tasks/{task_id}/edit", {"hp:General/lr": "0.9"})
    assert response.status_code == 400 and "only a draft is editable" in response.text  # the API's own rule
    assert _task(ui, task_id)["hyperparams"]["General"]["lr"]["value"] == "0.1"
    page = ui.client.get(f"/projects/*/experiments/{task_id}/hyper-params").text
    assert 'name="hp:General/lr"' not in page and "clone this experiment" in page


def test_abort_reset_archive(ui: UI) -> None:
    queued = ui.task("queued")
    queue = _queue(ui)
    ui.api("tasks.enqueue", {"task": queued, "queue": queue})
    ui.sign_in()
    assert ui.post(f"/ui/actions/tasks/{queued}/abort").status_code == 303
    assert _task(ui, queued)["status"] == "stopped"
    assert ui.post(f"/ui/actions/tasks/{queued}/reset").status_code == 303
    assert _task(ui, queued)["status"] == "created"
    assert ui.post(f"/ui/actions/tasks/{queued}/archive").status_code == 303
    assert "archived" in _task(ui, queued)["system_tags"]
    table = ui.client.get("/projects/*/experiments").text
    assert ">queued</a>" not in table


def test_abort_a_running_task_asks_it_to_stop(ui: UI) -> None:
    task_id = ui.task("run")
    ui.api("tasks.started", {"task": task_id})
    ui.api("workers.status_report", {"worker": "agent-1", "task": task_id, "timestamp": 0})  # an agent runs it
    ui.sign_in()
    assert ui.post(f"/ui/actions/tasks/{task_id}/abort").status_code == 303
    task = _task(ui, task_id)
    assert task["status"] == "in_progress" and task["status_message"] == "stopping"
    assert ui.post(f"/ui/actions/tasks/{task_id}/abort").status_code == 303  # asking twice is harmless


def test_tags_on_tasks_and_models(ui: UI) -> None:
    task_id = ui.task("t")
    ui.api("tasks.started", {"task": task_id})  # tags change in any status
    model = ui.api("models.create", {"name": "m", "uri": "file:///tmp/m.bin", "tags": ["old"]})["id"]
    ui.sign_in()
    assert ui.post(f"/ui/actions/tasks/{task_id}/tags", {"add": "a, b"}).status_code == 303
    assert _task(ui, task_id)["tags"] == ["a", "b"]
    assert ui.post(f"/ui/actions/tasks/{task_id}/tags", {"remove": "a"}).status_code == 303
    assert _task(ui, task_id)["tags"] == ["b"]
    assert ui.post(f"/ui/actions/models/{model}/tags", {"add": "best", "remove": "old"}).status_code == 303
    assert ui.api("models.get_by_id", {"model": model})["model"]["tags"] == ["best"]


def test_actions_on_unknown_ids_are_404(ui: UI) -> None:
    ui.sign_in()
    for action in ("clone", "enqueue", "abort", "reset", "archive", "tags", "edit"):
        response = ui.post(f"/ui/actions/tasks/nosuch/{action}")
        assert response.status_code == 404 and "nosuch" in response.text, action
    assert ui.post("/ui/actions/models/nosuch/tags").status_code == 404


def test_get_on_an_action_is_not_an_action(ui: UI) -> None:
    task_id = ui.task("t")
    ui.sign_in()
    response = ui.client.get(f"/ui/actions/tasks/{task_id}/archive")
    assert response.status_code in (404, 405)
    assert "archived" not in _task(ui, task_id).get("system_tags", [])
