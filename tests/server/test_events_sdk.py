"""``events.*`` through the real clearml SDK: what its readers get back from the embedded server."""

from __future__ import annotations

from tests.support.server import Env


def test_get_debug_samples_returns_the_last_iterations(clearml: Env) -> None:
    result = clearml.run(
        """
        import json
        import numpy as np
        from clearml import Task, Logger
        task = Task.init(project_name="events", task_name="images")
        for i in range(5):
            Logger.current_logger().report_image("t", "s", iteration=i, image=np.full((4, 4, 3), i, dtype=np.uint8))
        task.flush(wait_for_uploads=True)
        every = task.get_debug_samples("t", "s")
        last_two = task.get_debug_samples("t", "s", n_last_iterations=2)
        print("RESULT " + json.dumps({"every": [e["iter"] for e in every], "last_two": [e["iter"] for e in last_two],
                                      "urls": [e["url"] for e in last_two]}))
        task.mark_completed()
        """,
        timeout=120,
    ).result
    assert result["every"] == [4, 3, 2, 1, 0]
    assert result["last_two"] == [4, 3]
    assert all(url.startswith("http") for url in result["urls"])


def test_get_reported_console_output_returns_the_last_reports(clearml: Env) -> None:
    result = clearml.run(
        """
        import json, time
        from clearml import Task
        task = Task.init(project_name="events", task_name="console")
        for i in range(8):
            task.get_logger().report_text(f"report {i}", print_console=False)
            task.flush(wait_for_uploads=True)  # one console report (log event) each
            time.sleep(0.01)
        # flush() only wakes the SDK's console-log thread, it does not wait for it: poll
        deadline = time.monotonic() + 60
        last = task.get_reported_console_output(3)
        while "report 7" not in "".join(last) and time.monotonic() < deadline:
            time.sleep(0.2)
            last = task.get_reported_console_output(3)
        print("RESULT " + json.dumps(last))
        task.mark_completed()
        """
    ).result
    assert [report.strip() for report in result] == ["report 5", "report 6", "report 7"]
