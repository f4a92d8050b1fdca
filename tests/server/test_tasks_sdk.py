"""Tasks through the real clearml SDK against a started embedded server."""

from __future__ import annotations

from tests.conftest import Env


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
