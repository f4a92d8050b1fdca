"""Models through the real clearml SDK: OutputModel upload, queries, InputModel, publish, metadata."""

from __future__ import annotations

import hashlib

from tests.support.server import Env

WEIGHTS = bytes(range(256)) * 40

# Three models named "clf" in one project: the query below must keep only the first.
WRITE = f"""
import json
from clearml import Task, OutputModel

task = Task.init(project_name="models proj", task_name="train", output_uri=True)
with open("weights.pkl", "wb") as f:
    f.write({WEIGHTS!r})
with open("other.pkl", "wb") as f:
    f.write(b"other weights")
with open("third.pkl", "wb") as f:
    f.write(b"third weights")
main = OutputModel(task=task, framework="scikit-learn", tags=["a", "b"], name="clf")
main.update_weights(weights_filename="weights.pkl", iteration=7)
main.report_table(title="confusion", series="val", iteration=0, table_plot=[["label", "count"], ["cat", 3], ["dog", 4]])
main.set_metadata("acc", "0.93", "float")
excluded = OutputModel(task=task, framework="scikit-learn", tags=["a", "excluded"], name="clf")
excluded.update_weights(weights_filename="other.pkl")
untagged = OutputModel(task=task, framework="scikit-learn", tags=["c"], name="clf")
untagged.update_weights(weights_filename="third.pkl")
task.flush(wait_for_uploads=True)
print("RESULT " + json.dumps({{"task": task.id, "main": main.id, "excluded": excluded.id, "untagged": untagged.id,
                              "url": main.url, "meta": main.get_metadata("acc")}}))
task.close()
"""

READ = """
import hashlib, json, sys
from clearml import Model, Task
from clearml.backend_api.session.client import APIClient

task_id, model_id = sys.argv[1], sys.argv[2]
found = Model.query_models(project_name="models proj", model_name="clf", tags=["a", "-excluded"])
model = Model(model_id)
with open(model.get_local_copy(), "rb") as f:
    sha = hashlib.sha256(f.read()).hexdigest()
plots = APIClient().events.get_task_plots(task=model_id, model_events=True).plots
print("RESULT " + json.dumps({
    "found": [m.id for m in found],
    "by_metadata": [m.id for m in Model.query_models(project_name="models proj", metadata={"acc": "0.93"})],
    "sha": sha,
    "name": model.name,
    "framework": model.framework,
    "tags": model.tags,
    "task": model.task,
    "published": model.published,
    "metadata": model.get_metadata("acc"),
    "metadata_casted": model.get_metadata_casted("acc"),
    "plots": [(p["metric"], p["variant"], "dog" in p["plot_str"]) for p in plots],
    "task_outputs": [m.id for m in Task.get_task(task_id=task_id).models["output"]],
}))
"""

CHANGE = """
import json, sys
from clearml import InputModel, Model, Task

model_id, excluded_id, untagged_id = sys.argv[1:4]
removed = Model.remove(excluded_id, delete_weights_file=True, raise_on_errors=True)
Model(untagged_id).archive()
model = Model(model_id)
model.tags = ["a", "prod"]
model.set_metadata("threshold", "0.5", "float")
model.publish()

consumer = Task.init(project_name="models proj", task_name="consume")
input_model = InputModel(model_id=model_id)
consumer.connect(input_model)
consumer.close()
print("RESULT " + json.dumps({"consumer": consumer.id, "removed": removed}))
"""

CHECK = """
import json, sys
from clearml import Model, Task

model_id, consumer_id = sys.argv[1], sys.argv[2]
model = Model(model_id)
consumer = Task.get_task(task_id=consumer_id)
print("RESULT " + json.dumps({
    "tags": model.tags,
    "published": model.published,
    "metadata": model.get_all_metadata(),
    "published_query": [m.id for m in Model.query_models(project_name="models proj", only_published=True)],
    "prod": [m.id for m in Model.query_models(project_name="models proj", tags=["__$all", "a", "prod"])],
    "consumer_inputs": [m.id for m in consumer.models["input"]],
    "clf": [m.id for m in Model.query_models(project_name="models proj", model_name="clf")],
    "clf_archived": [m.id for m in Model.query_models(model_name="clf", include_archived=True)],
}))
"""


def test_output_model_roundtrip_through_sdk(clearml: Env) -> None:
    written = clearml.run(WRITE).result
    assert written["meta"] == "0.93"
    assert written["url"].startswith(clearml.vars["CLEARML_FILES_HOST"] + "/models%20proj/train.")

    read = clearml.run(READ, written["task"], written["main"]).result
    assert read["found"] == [written["main"]]
    assert read["by_metadata"] == [written["main"]]
    assert read["sha"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert read["name"] == "clf"
    assert read["framework"] == "scikit-learn"
    assert sorted(read["tags"]) == ["a", "b"]
    assert read["task"] == written["task"]
    assert read["published"] is False
    assert (read["metadata"], read["metadata_casted"]) == ("0.93", 0.93)
    assert read["plots"] == [["confusion", "val", True]]
    assert set(read["task_outputs"]) == {written["main"], written["excluded"], written["untagged"]}

    changed = clearml.run(CHANGE, written["main"], written["excluded"], written["untagged"]).result
    assert changed["removed"] is True
    consumer = changed["consumer"]
    check = clearml.run(CHECK, written["main"], consumer).result
    assert sorted(check["tags"]) == ["a", "prod"]
    assert check["published"] is True
    assert check["metadata"] == {
        "acc": {"key": "acc", "type": "float", "value": "0.93"},
        "threshold": {"key": "threshold", "type": "float", "value": "0.5"},
    }
    assert check["published_query"] == [written["main"]]
    assert check["prod"] == [written["main"]]
    assert check["consumer_inputs"] == [written["main"]]
    assert check["clf"] == [written["main"]]
    assert sorted(check["clf_archived"]) == sorted([written["main"], written["untagged"]])
    model_files = {p.name for p in (clearml.server.data_dir / "files" / "models proj").glob("train.*/models/*")}
    assert model_files == {"weights.pkl", "third.pkl"}


# Endpoints the high-level SDK reaches only in some versions or from the UI, called through the
# SDK's own typed API client (its request and response classes validate both ends); get_by_id and
# get_all answer entities that expose the document's fields directly.
API_CLIENT = """
import json
from clearml.backend_api.session.client import APIClient
from clearml.backend_api.session.client.client import APIError

api = APIClient()
project = api.projects.create(name="api models").id
task = api.tasks.create(name="producer", type="training", project=project).id
user = api.tasks.create(name="user", type="training", project=project).id
first = api.models.update_for_task(task=task, uri="http://x/first.bin", name="first", iteration=3)
second = api.models.create(uri="http://x/second.bin", name="second", project=project, framework="PyTorch",
                           metadata=[{"key": "k", "type": "str", "value": "v"}])
api.models.update_for_task(task=task, override_model_id=second.id)
api.tasks.add_or_update_model(task=user, name="in", model=first.id, type="input")

out = {"first_created": first.created, "second_task": api.models.get_by_id(model=second.id).task}
out["task_outputs"] = [m.model for m in api.tasks.get_by_id(task=task).models.output]
out["by_task"] = api.models.get_by_task_id(task=task).model.id
out["frameworks"] = api.models.get_frameworks(projects=[project]).frameworks
try:
    api.models.delete(model=first.id)
    out["delete_in_use"] = "deleted"
except APIError as err:
    out["delete_in_use"] = err.code
api.models.delete_metadata(model=second.id, keys=["k"])
out["metadata_after_delete"] = api.models.get_by_id(model=second.id).metadata
archived = api.models.archive_many(ids=[second.id])
out["archived"] = [s["id"] for s in archived.succeeded]
out["visible"] = [m.id for m in api.models.get_all(project=[project], system_tags=["-archived"])]
api.models.unarchive_many(ids=[second.id])
published = api.models.publish_many(ids=[first.id, "no-such-model"], publish_tasks=False)
out["published"] = [s["id"] for s in published.succeeded]
out["publish_failed"] = [f["id"] for f in published.failed]
api.models.move(ids=[second.id], project_name="api models/moved")
moved = api.projects.get_all(name="^api models/moved$")[0].id
out["moved_project"] = api.models.get_by_id(model=second.id).project == moved
deleted = api.models.delete_many(ids=[second.id, first.id], force=True)
out["deleted"] = sorted(s["id"] for s in deleted.succeeded)
out["left"] = [m.id for m in api.models.get_all(id=[first.id, second.id])]
out["task_outputs_after"] = [m.model for m in api.tasks.get_by_id(task=task).models.output]
out["ids"] = {"first": first.id, "second": second.id, "task": task}
print("RESULT " + json.dumps(out))
"""


def test_model_endpoints_through_api_client(clearml: Env) -> None:
    out = clearml.run(API_CLIENT).result
    ids = out["ids"]
    assert out["first_created"] is True
    assert out["second_task"] is None
    assert out["task_outputs"] == [ids["first"], ids["second"]]
    assert out["by_task"] == ids["second"]
    assert out["frameworks"] == ["PyTorch"]
    assert out["delete_in_use"] == 400
    assert out["metadata_after_delete"] == {}
    assert out["archived"] == [ids["second"]]
    assert out["visible"] == [ids["first"]]
    assert out["published"] == [ids["first"]]
    assert out["publish_failed"] == ["no-such-model"]
    assert out["moved_project"] is True
    assert out["deleted"] == sorted([ids["first"], ids["second"]])
    assert out["left"] == []
    assert out["task_outputs_after"] == []
