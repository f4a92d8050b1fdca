"""Tasks through the real clearml SDK against a started embedded server."""

from __future__ import annotations

from tests.support.server import Env


def test_task_init_connect_and_scalars_roundtrip(clearml: Env) -> None:
    result = clearml.run(
        """
        import argparse, json
        from clearml import Task, Logger
        task = Task.init(project_name="a/b", task_name="t1", output_uri=True)
        params = task.connect({"lr": 0.1, "layers": 3})
        parser = argparse.ArgumentParser()
        parser.add_argument("--x", type=int, default=5)
        parser.parse_args([])
        conf = task.connect_configuration({"cfg": 1}, name="myconf")
        print("hello console")
        for i in range(5):
            Logger.current_logger().report_scalar("val", "acc", value=0.5 + i * 0.1, iteration=i)
        Logger.current_logger().report_single_value("test_acc", 0.9)
        task.flush(wait_for_uploads=True)
        out = {
            "id": task.id,
            "last": task.get_last_scalar_metrics(),
            "reported": task.get_reported_scalars(),
            "params": task.get_parameters(),
            "conf": conf,
        }
        task.close()
        print("RESULT " + json.dumps(out))
        """
    )
    out = result.result
    assert out["last"]["val"]["acc"] == {"last": 0.9, "min": 0.5, "max": 0.9}
    assert out["last"]["Summary"]["test_acc"]["last"] == 0.9
    assert out["reported"]["val"]["acc"]["x"] == [0, 1, 2, 3, 4]
    assert out["params"]["General/lr"] == "0.1"
    assert out["params"]["Args/x"] == "5"
    assert out["conf"] == {"cfg": 1}

    check = clearml.run(
        f"""
        import json
        from clearml import Task
        task = Task.get_task(task_id="{out["id"]}")
        same = Task.get_task(project_name="a/b", task_name="t1")
        log = task.get_reported_console_output(number_of_reports=50)
        print("RESULT " + json.dumps({{"status": task.get_status(), "same": same.id,
              "project": task.get_project_name(), "log": "\\n".join(log)}}))
        """
    )
    info = check.result
    assert info["status"] == "completed"
    assert info["same"] == out["id"]
    assert info["project"] == "a/b"
    assert "hello console" in info["log"]


REUSE = """
import json, sys
from clearml import Task
task = Task.init(project_name="reuse", task_name="same")
if sys.argv[1] == "artifact":
    task.upload_artifact("numbers", {"a": 1}, wait_on_upload=True)
print("RESULT " + json.dumps(task.id))
task.close()
"""


def test_task_init_reuses_a_task_without_outputs_only(clearml: Env) -> None:
    first = clearml.run(REUSE, "plain").result
    second = clearml.run(REUSE, "plain").result
    assert second == first, "a task with no outputs is reused by the next Task.init"
    third = clearml.run(REUSE, "artifact").result
    assert third == first
    fourth = clearml.run(REUSE, "plain").result
    assert fourth != first, "a task with artifacts is never overwritten"


def test_clone_set_parameters_tags_and_queries(clearml: Env) -> None:
    out = clearml.run(
        """
        import json
        from clearml import Task
        base = Task.init(project_name="q", task_name="base")
        base.connect({"alpha": 1.0, "name": "x"})
        base.add_tags(["template"])
        base.close()

        clone = Task.clone(source_task=base, name="trial 1", parent=base.id)
        clone.set_parameters({"General/alpha": 0.5})
        clone.add_tags(["trial"])
        failing = Task.clone(source_task=base, name="trial 2", parent=base.id)
        failing.mark_started(force=True)
        failing.mark_failed(status_reason="boom", force=True)

        children = Task.get_tasks(project_name="q", task_filter={"parent": base.id, "order_by": ["name"]})
        failed = Task.get_tasks(project_name="q", task_filter={"status": ["failed"]})
        tagged = Task.get_tasks(project_name="q", tags=["template", "-trial"])
        print("RESULT " + json.dumps({
            "clone_params": Task.get_task(task_id=clone.id).get_parameters(),
            "clone_status": clone.get_status(),
            "clone_parent": clone.parent,
            "children": [t.name for t in children],
            "failed": [t.name for t in failed],
            "failed_reason": Task.get_task(task_id=failing.id).data.status_reason,
            "tagged": [t.name for t in tagged],
            "clone_tags": Task.get_task(task_id=clone.id).get_tags(),
        }))
        """
    ).result
    assert out["clone_params"]["General/alpha"] == "0.5"
    assert out["clone_status"] == "created"
    assert out["children"] == ["trial 1", "trial 2"]
    assert out["failed"] == ["trial 2"]
    assert out["failed_reason"] == "boom"
    assert sorted(out["tagged"]) == ["base", "trial 2"]  # clones inherit tags
    assert "trial" in out["clone_tags"]


def test_logger_reports_tables_text_and_plots(clearml: Env) -> None:
    out = clearml.run(
        """
        import json, time
        import pandas as pd
        from clearml import Task, Logger
        task = Task.init(project_name="reports", task_name="r")
        log = Logger.current_logger()
        log.report_table("report", "classes", iteration=0, table_plot=pd.DataFrame({"f1": [0.5, 0.7]}))
        log.report_text("some text")
        log.report_plotly("plotly", "series", iteration=0, figure={"data": [{"x": [1], "y": [2]}], "layout": {}})
        task.flush(wait_for_uploads=True)
        plots = task.get_reported_plots()
        # flush() only wakes the SDK's console-log thread, it does not wait for it: poll
        deadline = time.monotonic() + 60
        console = task.get_reported_console_output(20)
        while not any("some text" in c for c in console) and time.monotonic() < deadline:
            time.sleep(0.2)
            console = task.get_reported_console_output(20)
        print("RESULT " + json.dumps({"plots": sorted(p["metric"] for p in plots), "log": console}))
        task.mark_completed()
        """
    ).result
    assert out["plots"] == ["plotly", "report"]
    assert any("some text" in chunk for chunk in out["log"])
