"""Queues and workers through the real SDK (APIClient parses every answer with the SDK's schemas)."""

from __future__ import annotations

from tests.support.server import Env

QUEUE_OPS = """
import json, time
from clearml import Task
from clearml.backend_api.session.client import APIClient

api = APIClient()
qid = api.queues.create(name="idle").id
tasks = [Task.create(project_name="q", task_name=f"t{i}") for i in range(3)]
for task in tasks:
    Task.enqueue(task, queue_name="idle")
time.sleep(1.5)  # nobody serves the queue: nothing may change
statuses = [Task.get_task(task_id=t.id).get_status() for t in tasks]
ids = [t.id for t in tasks]

def order():
    return [e.task for e in api.queues.get_by_id(queue=qid).entries]

out = {"statuses": statuses, "num": api.queues.get_num_entries(queue=qid).num, "fifo": order() == ids}
out["front"] = api.queues.move_task_to_front(queue=qid, task=ids[2]).position
out["after_front"] = order() == [ids[2], ids[0], ids[1]]
out["backward"] = api.queues.move_task_backward(queue=qid, task=ids[2], count=5).position
out["forward"] = api.queues.move_task_forward(queue=qid, task=ids[2]).position
out["back"] = api.queues.move_task_to_back(queue=qid, task=ids[0]).position
out["order"] = order() == [ids[2], ids[1], ids[0]]
out["peek"] = api.queues.peek_task(queue=qid).task == ids[2]
Task.dequeue(tasks[2])
out["dequeued"] = Task.get_task(task_id=ids[2]).get_status()
out["after_dequeue"] = order() == [ids[1], ids[0]]
metrics = api.queues.get_queue_metrics(queue_ids=[qid], from_date=0, to_date=time.time() + 60, interval=10)
out["metric_length"] = metrics.queues[0].queue_lengths[-1]
api.queues.update(queue=qid, tags=["cpu"])
api.queues.add_or_update_metadata(queue=qid, metadata=[{"key": "k", "type": "str", "value": "v"}])
out["meta"] = api.queues.get_all(name="^idle$")[0].metadata
api.workers.register(worker="w1", queues=[qid], timeout=60)
api.workers.status_report(worker="w1", timestamp=int(time.time() * 1000), task=ids[1], queue=qid)
worker = [w for w in api.workers.get_all() if w.id == "w1"][0]
out["worker"] = {"task": worker.task.id, "queues": [q.name for q in worker.queues]}
out["next"] = api.queues.get_next_task(queue=qid).entry.task == ids[1]
out["remove"] = api.queues.remove_task(queue=qid, task=ids[0]).removed
out["empty"] = api.queues.get_next_task(queue=qid).entry is None
api.workers.unregister(worker="w1")
out["workers_left"] = [w.id for w in api.workers.get_all()]
out["deleted"] = api.queues.delete(queue=qid).deleted
out["queues_left"] = [q.name for q in api.queues.get_all()]
print("RESULT " + json.dumps(out))
"""


def test_queue_without_worker_keeps_tasks_queued_and_reorders(clearml: Env) -> None:
    out = clearml.run(QUEUE_OPS).result
    assert out["statuses"] == ["queued"] * 3
    assert out["num"] == 3 and out["fifo"]
    assert (out["front"], out["after_front"]) == (0, True)
    assert (out["backward"], out["forward"], out["back"], out["order"], out["peek"]) == (2, 1, 2, True, True)
    assert out["dequeued"] == "created" and out["after_dequeue"]
    assert out["metric_length"] == 2
    assert out["meta"] == {"k": {"key": "k", "type": "str", "value": "v"}}
    assert out["worker"] == {"task": out["worker"]["task"], "queues": ["idle"]}
    assert out["next"] and out["remove"] == 1 and out["empty"]
    assert "w1" not in out["workers_left"]
    assert out["deleted"] == 1 and "idle" not in out["queues_left"]


BAD_INPUT = """
import json
from clearml import Task
from clearml.backend_api.session.client import APIClient

api = APIClient()
api.queues.create(name="real")
task = Task.create(project_name="bad", task_name="t")
out = {}
try:
    Task.enqueue(task, queue_name="no-such-queue")
except Exception as err:
    out["enqueue"] = str(err)
out["after_enqueue"] = Task.get_task(task_id=task.id).get_status()
try:
    api.tasks.enqueue(task=task.id, queue="0123456789abcdef")
except Exception as err:
    out["enqueue_api"] = str(err)
n_tasks = len(api.tasks.get_all())
try:
    Task.clone(source_task="0123456789abcdef")
except Exception as err:
    out["clone"] = str(err)
out["tasks_unchanged"] = len(api.tasks.get_all()) == n_tasks
task.mark_started(force=True)
task.mark_completed()
try:
    api.tasks.stop(task=task.id)
except Exception as err:
    out["stop"] = str(err)
done = Task.get_task(task_id=task.id)
out["after_stop"] = [done.get_status(), done.data.status_message]
out["queued_nowhere"] = [len(q.entries) for q in api.queues.get_all()]
print("RESULT " + json.dumps(out))
"""


def test_bad_queue_clone_and_abort_requests_fail_clearly_and_change_nothing(clearml: Env) -> None:
    out = clearml.run(BAD_INPUT).result
    assert "no-such-queue" in out["enqueue"]
    assert out["after_enqueue"] == "created"
    assert "Invalid queue id" in out["enqueue_api"]
    assert "0123456789abcdef" in out["clone"]
    assert out["tasks_unchanged"]
    assert "Invalid task status" in out["stop"]
    assert out["after_stop"][0] == "completed"
    assert set(out["queued_nowhere"]) <= {0}
