"""Every implemented endpoint answers in a shape the SDK's own API definitions accept.

The installed clearml SDK carries ClearML's API definitions (``backend_api/services/v2_23``).
For each endpoint the server implements, a realistic request is sent over HTTP and the response
``data`` is parsed and validated with the SDK's Response class for that endpoint. An endpoint
added to the server without an example here fails :func:`test_every_endpoint_has_an_example`.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from clearml.backend_api.services import v2_23
from clearml.backend_api.session import Response

from hpo.server.routes import ROUTERS
from tests.support.api import RawAPI
from tests.support.server import Env

Ctx = dict[str, str]
Example = Callable[[Ctx], Any]

# Endpoints the agent or SDK calls that ClearML's published definitions do not describe.
NO_DEFINITION = {
    "debug.ping",
    "server.info",
    "auth.validate_token",
    "users.get_current_user",
    "users.get_all",
    "users.get_all_ex",
    "users.get_by_id",
    "users.get_preferences",
    "workers.get_runtime_properties",
    "workers.set_runtime_properties",
    "projects.get_all_ex",
    "queues.get_all_ex",
    "tasks.get_all_ex",
    "models.get_all_ex",
    "tasks.update_tags",  # ClearML Server 2.27; the SDK's definitions stop at 2.23
}

# Definitions whose JSON schema cannot be resolved (a dangling $ref in the SDK): only built, as the SDK does.
BROKEN_SCHEMA = {"events.debug_images"}


def _response_classes() -> dict[str, type[Response]]:
    found: dict[str, type[Response]] = {}
    for info in pkgutil.iter_modules(v2_23.__path__):
        module = importlib.import_module(f"{v2_23.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Response) and getattr(value, "_service", None):
                found[f"{value._service}.{value._action}"] = value
    return found


def check_against_definition(cls: type[Response], data: dict[str, Any]) -> None:
    """Validate raw response data with the definition's JSON schema, then build it as the SDK does."""
    if f"{cls._service}.{cls._action}" not in BROKEN_SCHEMA:
        jsonschema.Draft7Validator(cls._schema).validate(data)
    cls(**data)


def _implemented() -> set[str]:
    return {name for router in ROUTERS for name in router.handlers}


def _setup(api: RawAPI) -> Ctx:
    ctx: Ctx = {}
    ctx["project"] = api.call("projects.create", {"name": "contract/sub"})["id"]
    ctx["task"] = api.call("tasks.create", {"name": "t", "project": ctx["project"], "type": "training"})["id"]
    api.call(
        "events.add_batch",
        [
            {
                "type": "training_stats_scalar",
                "task": ctx["task"],
                "metric": "m",
                "variant": "v",
                "iter": 1,
                "value": 1.0,
            }
        ],
    )
    ctx["queue"] = api.call("queues.create", {"name": "contract-q"})["id"]
    ctx["model"] = _model(api, ctx)
    api.call("tasks.add_or_update_model", {"task": ctx["task"], "name": "m", "model": ctx["model"], "type": "output"})
    return ctx


def _model(api: RawAPI, ctx: Ctx) -> str:
    # ready: false as the SDK sends it (ClearML's default is a ready model, which set_ready refuses)
    body = {"name": "m", "uri": "http://x/m.pkl", "project": ctx["project"], "task": ctx["task"], "ready": False}
    return str(api.call("models.create", body)["id"])


def _fresh_task(api: RawAPI, ctx: Ctx) -> Example:
    def make(_: Ctx) -> dict[str, Any]:
        return {"task": api.call("tasks.create", {"name": "x", "project": ctx["project"]})["id"], "force": True}

    return make


def examples(api: RawAPI, ctx: Ctx) -> dict[str, Example]:
    fresh = _fresh_task(api, ctx)
    task: Example = lambda c: {"task": c["task"]}  # noqa: E731
    return {
        "auth.login": lambda c: {},
        "projects.create": lambda c: {"name": "contract/other"},
        "projects.get_by_id": lambda c: {"project": c["project"]},
        "projects.get_all": lambda c: {"name": "^contract"},
        "projects.get_all_ex": lambda c: {"name": "^contract", "include_stats": True},
        "projects.update": lambda c: {"project": c["project"], "description": "d"},
        "projects.delete": lambda c: {"project": api.call("projects.create", {"name": "gone"})["id"]},
        "projects.get_hyper_parameters": lambda c: {"project": c["project"]},
        "projects.get_unique_metric_variants": lambda c: {"project": c["project"]},
        "tasks.create": lambda c: {"name": "n", "project": c["project"], "type": "training"},
        "tasks.get_by_id": task,
        "tasks.get_all": lambda c: {"project": [c["project"]], "order_by": ["-last_update"]},
        "tasks.get_all_ex": lambda c: {"project": [c["project"]]},
        "tasks.edit": lambda c: {"task": c["task"], "comment": "c", "force": True},
        "tasks.update": lambda c: {"task": c["task"], "comment": "c2"},
        "tasks.set_requirements": lambda c: {"task": c["task"], "requirements": {"pip": "numpy"}},
        "tasks.started": fresh,
        "tasks.completed": fresh,
        "tasks.failed": fresh,
        "tasks.stopped": fresh,
        "tasks.close": fresh,
        "tasks.publish": fresh,
        "tasks.stop": fresh,
        "tasks.ping": task,
        "tasks.reset": fresh,
        "tasks.enqueue": lambda c: {**fresh(c), "queue": c["queue"]},
        "tasks.dequeue": lambda c: {"task": _queued(api, c)},
        "tasks.clone": lambda c: {"task": c["task"], "new_task_name": "clone"},
        "tasks.delete": fresh,
        "tasks.archive_many": lambda c: {"ids": [fresh(c)["task"]]},
        "tasks.unarchive_many": lambda c: {"ids": [fresh(c)["task"], "0" * 32]},
        "tasks.stop_many": lambda c: {"ids": [fresh(c)["task"], "0" * 32]},
        "tasks.publish_many": lambda c: {"ids": [fresh(c)["task"]], "force": True},
        "tasks.reset_many": lambda c: {"ids": [fresh(c)["task"]]},
        "tasks.enqueue_many": lambda c: {"ids": [fresh(c)["task"]], "queue": c["queue"]},
        "tasks.dequeue_many": lambda c: {"ids": [_queued(api, c), "0" * 32]},
        "tasks.delete_many": lambda c: {"ids": [fresh(c)["task"]]},
        "tasks.move": lambda c: {"ids": [fresh(c)["task"]], "project": c["project"]},
        "tasks.update_tags": lambda c: {"ids": [fresh(c)["task"]], "add_tags": ["t"]},
        "tasks.archive": lambda c: {"tasks": [fresh(c)["task"]]},
        "tasks.get_types": lambda c: {},
        "tasks.get_hyper_params": lambda c: {"tasks": [c["task"]]},
        "tasks.edit_hyper_params": lambda c: {
            "task": c["task"],
            "hyperparams": [{"section": "Args", "name": "lr", "value": "0.1", "type": "float"}],
        },
        "tasks.delete_hyper_params": lambda c: {"task": c["task"], "hyperparams": [{"section": "Args", "name": "x"}]},
        "tasks.get_configurations": lambda c: {"tasks": [c["task"]]},
        "tasks.edit_configuration": lambda c: {"task": c["task"], "configuration": [{"name": "cfg", "value": "{}"}]},
        "tasks.delete_configuration": lambda c: {"task": c["task"], "configuration": ["none"]},
        "tasks.add_or_update_artifacts": lambda c: {
            "task": c["task"],
            "artifacts": [{"key": "a", "type": "dict", "mode": "output", "uri": "http://x/a.json"}],
        },
        "tasks.delete_artifacts": lambda c: {"task": c["task"], "artifacts": [{"key": "zz", "mode": "output"}]},
        "tasks.delete_models": lambda c: {"task": c["task"], "models": [{"name": "zz", "type": "output"}]},
        "events.add_batch": lambda c: [{"type": "log", "task": c["task"], "msg": "x", "level": "info"}],
        "events.add": lambda c: {"type": "log", "task": c["task"], "msg": "hi", "level": "info"},
        "events.get_task_log": task,
        "events.get_task_events": task,
        "events.get_task_plots": task,
        "events.get_multi_task_plots": lambda c: {"tasks": [c["task"]]},
        "events.debug_images": lambda c: {"metrics": [{"task": c["task"]}]},
        "events.get_task_metrics": lambda c: {"tasks": [c["task"]]},
        "events.scalar_metrics_iter_histogram": task,
        "events.get_scalar_metrics_and_variants": task,
        "events.get_scalar_metric_data": lambda c: {"task": c["task"], "metric": "m"},
        "events.get_task_single_value_metrics": lambda c: {"tasks": [c["task"]]},
        "events.delete_for_task": fresh,
        "queues.create": lambda c: {"name": "contract-q2"},
        "queues.get_by_id": lambda c: {"queue": c["queue"]},
        "queues.get_all": lambda c: {"name": "contract"},
        "queues.get_all_ex": lambda c: {"name": "contract"},
        "queues.get_default": lambda c: {},
        "tasks.add_or_update_model": lambda c: {"task": c["task"], "name": "m", "model": c["model"], "type": "output"},
        "models.create": lambda c: {"name": "m2", "uri": "http://x/m2.pkl", "project": c["project"]},
        "models.update_for_task": lambda c: {"task": fresh(c)["task"], "uri": "http://x/m3.pkl", "name": "m3"},
        "models.get_by_id": lambda c: {"model": c["model"]},
        "models.get_by_task_id": lambda c: {"task": c["task"]},
        "models.get_all": lambda c: {"project": [c["project"]], "tags": ["-x"]},
        "models.get_all_ex": lambda c: {"project": [c["project"]]},
        "models.get_frameworks": lambda c: {"projects": [c["project"]]},
        "models.edit": lambda c: {"model": c["model"], "comment": "c"},
        "models.update": lambda c: {"model": c["model"], "tags": ["t"]},
        "models.add_or_update_metadata": lambda c: {
            "model": c["model"],
            "metadata": [{"key": "k", "type": "str", "value": "v"}],
        },
        "models.delete_metadata": lambda c: {"model": c["model"], "keys": ["k"]},
        "models.move": lambda c: {"ids": [c["model"]], "project": c["project"]},
        "models.make_public": lambda c: {"ids": [c["model"]]},
        "models.make_private": lambda c: {"ids": [c["model"]]},
        "models.set_ready": lambda c: {"model": _model(api, c), "publish_task": False},
        "models.publish_many": lambda c: {"ids": [_model(api, c)]},
        "models.archive_many": lambda c: {"ids": [_model(api, c)]},
        "models.unarchive_many": lambda c: {"ids": [_model(api, c)]},
        "models.delete": lambda c: {"model": _model(api, c)},
        "models.delete_many": lambda c: {"ids": [_model(api, c)]},
        **_queue_examples(api),
        **_worker_examples(api),
    }


def _queue_with_task(api: RawAPI, ctx: Ctx) -> dict[str, Any]:
    """A new queue holding one new queued task (for the queue operations that need an entry)."""
    queue = api.call("queues.create", {"name": f"contract-q-{uuid.uuid4().hex}"})["id"]
    task = api.call("tasks.create", {"name": "q", "project": ctx["project"]})["id"]
    api.call("tasks.enqueue", {"task": task, "queue": queue})
    return {"queue": queue, "task": task}


def _queue_examples(api: RawAPI) -> dict[str, Example]:
    entry: Example = lambda c: _queue_with_task(api, c)  # noqa: E731
    return {
        "queues.update": lambda c: {"queue": c["queue"], "tags": ["t"]},
        "queues.delete": lambda c: {"queue": _queue_with_task(api, c)["queue"], "force": True},
        "queues.add_task": lambda c: {"queue": c["queue"], "task": c["task"]},
        "queues.remove_task": entry,
        "queues.move_task_forward": entry,
        "queues.move_task_backward": entry,
        "queues.move_task_to_front": entry,
        "queues.move_task_to_back": entry,
        "queues.get_next_task": lambda c: {**entry(c), "get_task_info": True},
        "queues.get_num_entries": lambda c: {"queue": c["queue"]},
        "queues.peek_task": lambda c: {"queue": c["queue"]},
        "queues.get_queue_metrics": lambda c: {
            "queue_ids": [c["queue"]],
            "from_date": 0,
            "to_date": 2e9,
            "interval": 60,
        },
        "queues.add_or_update_metadata": lambda c: {"queue": c["queue"], "metadata": [{"key": "k", "value": "v"}]},
        "queues.delete_metadata": lambda c: {"queue": c["queue"], "keys": ["k"]},
    }


def _worker_examples(api: RawAPI) -> dict[str, Example]:
    def registered(c: Ctx) -> dict[str, Any]:
        api.call("workers.register", {"worker": "contract-w", "queues": [c["queue"]]})
        return {"worker": "contract-w"}

    return {
        "workers.register": lambda c: {"worker": "contract-w", "queues": [c["queue"]], "timeout": 60},
        "workers.status_report": lambda c: {**registered(c), "timestamp": 1, "task": c["task"], "queue": c["queue"]},
        "workers.get_all": lambda c: {"last_seen": 600, "tags": [], **registered(c)},
        "workers.unregister": registered,
        "workers.get_metric_keys": lambda c: {},
        "workers.get_stats": lambda c: {
            "from_date": 0,
            "to_date": 2e9,
            "interval": 60,
            "items": [{"key": "cpu_usage"}],
        },
        "workers.get_activity_report": lambda c: {"from_date": 0, "to_date": 2e9, "interval": 60},
    }


def _queued(api: RawAPI, ctx: Ctx) -> str:
    task = api.call("tasks.create", {"name": "q", "project": ctx["project"]})["id"]
    api.call("tasks.enqueue", {"task": task, "queue": ctx["queue"]})
    return str(task)


def test_every_endpoint_has_an_example(clearml: Env) -> None:
    api = RawAPI(clearml.server)
    try:
        covered = set(examples(api, {})) | NO_DEFINITION
    finally:
        api.close()
    missing = sorted(_implemented() - covered)
    assert not missing, f"endpoints without a contract example: {missing}"


def test_no_definition_list_is_honest() -> None:
    defined = set(_response_classes())
    wrongly_listed = sorted(NO_DEFINITION & defined)
    assert not wrongly_listed, f"these have SDK definitions, give them examples: {wrongly_listed}"


def test_responses_parse_with_sdk_definitions(clearml: Env) -> None:
    classes = _response_classes()
    api = RawAPI(clearml.server)
    failures: list[str] = []
    try:
        ctx = _setup(api)
        for endpoint, example in sorted(examples(api, ctx).items()):
            if endpoint not in _implemented() or endpoint in NO_DEFINITION:
                continue
            response = api.raw(endpoint, example(ctx))
            payload = response.json()
            if response.status_code != 200:
                failures.append(f"{endpoint}: HTTP {response.status_code} {payload['meta']['result_msg']}")
                continue
            assert payload["meta"]["result_code"] == 200
            try:
                check_against_definition(classes[endpoint], payload["data"])
            except Exception as err:  # collect every mismatch, report them together
                failures.append(f"{endpoint}: {type(err).__name__}: {str(err)[:300]}")
    finally:
        api.close()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("endpoint", ["tasks.nope", "nothing.here"])
def test_unknown_endpoint_is_a_4xx_clearml_error(clearml: Env, endpoint: str) -> None:
    api = RawAPI(clearml.server)
    try:
        response = api.raw(endpoint, {})
    finally:
        api.close()
    assert response.status_code == 400
    meta = response.json()["meta"]
    assert meta["result_code"] == 400
    assert "Invalid endpoint" in meta["result_msg"]
