"""ClearML Server's task and project semantics that the SDK, the agent and a search rely on.

Each test is a regression for a difference from ClearML Server (its ``apiserver/bll/task`` and
``bll/project``): through the real SDK where the SDK makes the call, else over HTTP in process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import InProcess, RawAPI, in_process_app
from tests.support.server import Env


class TaskAPI(InProcess):
    """:class:`InProcess` with the task shortcuts these tests use."""

    def task(self, name: str = "t", **extra: Any) -> str:
        return str(self.call("tasks.create", {"name": name, "type": "training", **extra})["id"])

    def get(self, task_id: str) -> dict[str, Any]:
        return dict(self.call("tasks.get_by_id", {"task": task_id})["task"])


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TaskAPI]:
    with in_process_app(tmp_path / "server") as (client, token):
        yield TaskAPI(client, token)


# ---- stop -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tags", [[], ["development"]])
def test_stop_of_a_task_no_worker_runs_stops_it_at_once(api: TaskAPI, tags: list[str]) -> None:
    task = api.task(system_tags=tags)
    api.call("tasks.started", {"task": task})
    answer = api.call("tasks.stop", {"task": task})
    assert answer["updated"] == 1
    assert answer["fields"]["status"] == "stopped" and answer["fields"]["last_update"]
    assert api.get(task)["status"] == "stopped"


def test_stop_of_a_task_a_worker_runs_asks_the_worker(api: TaskAPI) -> None:
    task = api.task()
    api.call("tasks.started", {"task": task})
    api.call("workers.status_report", {"worker": "agent-1", "task": task, "timestamp": 0})
    answer = api.call("tasks.stop", {"task": task})
    assert answer["fields"]["status"] == "in_progress" and answer["fields"]["status_message"] == "stopping"
    assert api.get(task)["status"] == "in_progress"
    dev = api.task(system_tags=["development"])  # a script's own run: its SDK follows the status
    api.call("tasks.started", {"task": dev})
    api.call("workers.status_report", {"worker": "agent-1", "task": dev, "timestamp": 0})
    assert api.call("tasks.stop", {"task": dev})["fields"]["status"] == "stopped"


def test_a_pending_stop_survives_the_started_calls_of_a_starting_run(api: TaskAPI) -> None:
    """Unlike ClearML's server: the daemon, ``execute`` and ``Task.init`` each mark the task started
    as it starts; an abort that lands between them stays pending until the agent acts on it."""
    task = api.task()
    api.call("tasks.started", {"task": task, "status_message": "pulled by agent", "force": True})
    api.call("workers.status_report", {"worker": "agent-1", "task": task, "timestamp": 0})
    api.call("tasks.stop", {"task": task, "status_reason": "aborted in the web UI"})
    api.call("tasks.started", {"task": task, "status_message": "launch by agent", "force": True})
    api.call("tasks.started", {"task": task})
    after = api.get(task)
    assert (after["status"], after["status_message"]) == ("in_progress", "stopping")
    assert after["status_reason"] == "aborted in the web UI"
    api.call("tasks.stopped", {"task": task, "status_message": "Changed by clearml-agent"})
    assert api.get(task)["status_message"] == "Changed by clearml-agent"  # the agent's own end is kept
    other = api.task()  # a run nobody asked to stop takes the message it is sent
    api.call("tasks.started", {"task": other, "status_message": "pulled by agent", "force": True})
    api.call("tasks.started", {"task": other, "status_message": "launch by agent", "force": True})
    assert api.get(other)["status_message"] == "launch by agent"


def test_stop_of_a_draft_or_finished_task_needs_force(api: TaskAPI) -> None:
    task = api.task()
    api.refused("tasks.stop", {"task": task}, 110)
    assert api.call("tasks.stop", {"task": task, "force": True})["fields"]["status"] == "stopped"


# ---- edits of what a task runs --------------------------------------------------------------


def test_parameters_of_a_running_task_change_only_with_force(api: TaskAPI) -> None:
    task = api.task()
    api.call("tasks.started", {"task": task})
    param = {"section": "Args", "name": "lr", "value": "0.9"}
    edits: list[tuple[str, dict[str, Any]]] = [
        ("tasks.edit_hyper_params", {"hyperparams": [param]}),
        ("tasks.delete_hyper_params", {"hyperparams": [{"section": "Args", "name": "lr"}]}),
        ("tasks.edit_configuration", {"configuration": [{"name": "cfg", "value": "{}"}]}),
        ("tasks.delete_configuration", {"configuration": ["cfg"]}),
        ("tasks.edit", {"comment": "changed"}),
    ]
    for endpoint, body in edits:
        message = api.refused(endpoint, {"task": task, **body}, 110)
        assert "only a draft is editable" in message and "force" in message
        api.call(endpoint, {"task": task, **body, "force": True})
    assert api.get(task)["comment"] == "changed"
    user_property = {"section": "properties", "name": "note", "value": "x"}  # Task.set_user_properties: any status
    api.call("tasks.edit_hyper_params", {"task": task, "hyperparams": [user_property]})
    api.call("tasks.update", {"task": task, "name": "renamed"})  # names and tags change in any status
    assert api.get(task)["hyperparams"]["properties"]["note"]["value"] == "x"


# ---- delete and reset -----------------------------------------------------------------------


def test_delete_without_force_takes_only_a_draft_or_an_archived_task(api: TaskAPI) -> None:
    published = api.task()
    api.call("tasks.completed", {"task": published, "force": True})
    api.call("tasks.publish", {"task": published})
    assert "archive it first or pass force=true" in api.refused("tasks.delete", {"task": published}, 123)
    assert api.get(published)["status"] == "published"
    api.call("tasks.delete", {"task": published, "force": True})
    done = api.task()
    api.call("tasks.completed", {"task": done, "force": True})
    api.call("tasks.archive", {"task": done})
    api.call("tasks.delete", {"task": done})
    api.call("tasks.delete", {"task": api.task()})
    assert api.call("tasks.get_all", {})["tasks"] == []


def test_reset_deletes_the_draft_output_models_it_created(api: TaskAPI) -> None:
    task = api.task()
    api.call("tasks.started", {"task": task})
    draft = api.call("models.create", {"name": "draft", "uri": "file:///d", "task": task, "ready": False})["id"]
    ready = api.call("models.create", {"name": "ready", "uri": "file:///r", "task": task, "ready": True})["id"]
    for name, model in (("draft", draft), ("ready", ready)):
        api.call("tasks.add_or_update_model", {"task": task, "type": "output", "name": name, "model": model})
    assert "published output models" in api.refused("tasks.reset", {"task": task}, 123)
    answer = api.call("tasks.reset", {"task": task, "force": True})
    assert answer["deleted_models"] == 1
    assert api.raw("models.get_by_id", {"model": draft}).status_code == 400
    assert api.call("models.get_by_id", {"model": ready})["model"]["id"] == ready
    reset = api.get(task)
    assert reset["status"] == "created" and reset["models"]["output"] == []


# ---- projects ---------------------------------------------------------------------------------


def test_project_delete_with_force_detaches_its_tasks_and_models(api: TaskAPI) -> None:
    project = api.call("projects.create", {"name": "p"})["id"]
    sub = api.call("projects.create", {"name": "p/sub"})["id"]
    tasks = [api.task(project=project), api.task(project=sub)]
    model = api.call("models.create", {"name": "m", "uri": "file:///m", "project": sub})["id"]
    assert api.refused("projects.delete", {"project": project}, 402)
    answer = api.call("projects.delete", {"project": project, "force": True})
    assert answer["deleted"] == 2 and answer["disassociated_tasks"] == 2 and answer["deleted_tasks"] == 0
    assert [api.get(t)["project"] for t in tasks] == [None, None]
    assert api.call("models.get_by_id", {"model": model})["model"]["project"] is None


def test_project_delete_with_contents_deletes_them_and_archived_contents_do_not_block(api: TaskAPI) -> None:
    project = api.call("projects.create", {"name": "q"})["id"]
    old = api.task(project=project)
    api.call("tasks.archive", {"task": old})
    api.call("projects.delete", {"project": project})  # only archived tasks: no force needed
    assert api.get(old)["project"] is None
    project = api.call("projects.create", {"name": "q2"})["id"]
    gone = api.task(project=project)
    answer = api.call("projects.delete", {"project": project, "force": True, "delete_contents": True})
    assert answer["deleted_tasks"] == 1
    assert api.raw("tasks.get_by_id", {"task": gone}).status_code == 400


# ---- through the real SDK ---------------------------------------------------------------------


@pytest.fixture
def http(clearml: Env) -> Iterator[RawAPI]:
    client = RawAPI(clearml.server)
    yield client
    client.close()


TOP = """
import json, sys
from clearml.automation.optimization import Objective
top = Objective(title="val", series="loss", order="min").get_top_tasks(top_k=2, optimizer_task_id=sys.argv[1])
print("RESULT " + json.dumps([t.name for t in top]))
"""


def test_top_experiments_of_a_minimised_objective_skip_trials_that_never_reported(clearml: Env, http: RawAPI) -> None:
    """``HyperParameterOptimizer.get_top_experiments`` asks exactly this (Objective.get_top_tasks)."""
    optimizer = http.call("tasks.create", {"name": "optimizer", "type": "optimizer"})["id"]
    for name, loss in [("silent-1", None), ("worse", 0.5), ("silent-2", None), ("best", 0.2)]:
        trial = http.call("tasks.create", {"name": name, "type": "training", "parent": optimizer})["id"]
        if loss is not None:
            scalar = {"type": "training_stats_scalar", "metric": "val", "variant": "loss", "iter": 0}
            http.call("events.add", {**scalar, "task": trial, "value": loss})
    assert clearml.run(TOP, optimizer).result == ["best", "worse"]


CLONE_ENQUEUE = """
import json
from clearml import Task
dev = Task.init(project_name="sem", task_name="dev run")
dev_tags = dev.get_system_tags()
dev.close()
clone = Task.clone(source_task=dev.id, name="clone")
draft = Task.create(project_name="sem", task_name="marked")
draft.set_system_tags(["development", "keep"])
Task.enqueue(draft, queue_name="work")
print("RESULT " + json.dumps({"dev": dev_tags, "clone": Task.get_task(task_id=clone.id).get_system_tags(),
                              "enqueued": Task.get_task(task_id=draft.id).get_system_tags()}))
"""


def test_clone_and_enqueue_drop_the_development_tag(clearml: Env, http: RawAPI) -> None:
    http.call("queues.create", {"name": "work"})
    out = clearml.run(CLONE_ENQUEUE).result
    assert "development" in out["dev"]
    assert "development" not in out["clone"]
    assert "development" not in out["enqueued"] and "keep" in out["enqueued"]


MONITOR = """
import json, sys
from clearml import Task
from clearml.automation.monitor import Monitor
from clearml.backend_api.session.client import APIClient


class Failures(Monitor):
    seen = []

    def process_task(self, task):
        self.seen.append(task.name)


monitor = Failures()
monitor.set_projects(project_names=["watched"])
monitor.monitor_step()  # the first step only dates the next one
APIClient().tasks.failed(task=sys.argv[1], force=True)
monitor.monitor_step()
print("RESULT " + json.dumps(Failures.seen))
"""


def test_monitor_finds_tasks_by_its_status_changed_date_query(clearml: Env, http: RawAPI) -> None:
    project = http.call("projects.create", {"name": "watched"})["id"]
    old = http.call("tasks.create", {"name": "old failure", "type": "training", "project": project})["id"]
    http.call("tasks.failed", {"task": old, "force": True})  # before the monitor's first step: not new
    task = http.call("tasks.create", {"name": "new failure", "type": "training", "project": project})["id"]
    http.call("tasks.started", {"task": task})
    result = clearml.run(MONITOR, task)
    assert "Exception querying Tasks" not in result.output
    assert result.result == ["new failure"]
