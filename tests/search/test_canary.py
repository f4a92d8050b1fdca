"""``hpo search --check``: the canary's pure logic, and a real run of a script that ignores an argument."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo.search._canary import (
    CanaryConfig,
    CanaryReport,
    Mismatch,
    argv_overrides,
    command_line,
    compare,
    draw_config,
    missing_objectives,
)
from hpo.search._space import SearchSpace, load_space
from hpo.study import Objective, SearchState, StudyAttr
from tests.support.search import SearchEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def _space(tmp_path: Path, **fields: Any) -> SearchSpace:
    doc: dict[str, Any] = {
        "template": "curve",
        "objective": {"title": "validation", "series": "score", "direction": "max"},
        "parameters": {
            "General/x": {"type": "float", "low": 0.0, "high": 1.0},
            "General/kernel": {"type": "categorical", "choices": ["rbf", "linear"]},
            "General/n": {"type": "int", "low": 1, "high": 3},
        },
    }
    doc.update(fields)
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_space(path)


TEMPLATE = {"General/x": "0.5", "General/kernel": "rbf", "General/n": "2", "General/other": "7"}


def test_draw_config_changes_every_parameter_from_the_template(tmp_path: Path) -> None:
    config = draw_config(_space(tmp_path), TEMPLATE, seed=3)
    assert set(config.values) == {"General/x", "General/kernel", "General/n"}
    assert config.values["General/kernel"] == "linear" and config.values["General/n"] != 2
    assert sorted(config.verified) == ["General/kernel", "General/n", "General/x"] and config.unverified == ()
    assert draw_config(_space(tmp_path), TEMPLATE, seed=3) == config  # seeded: reproducible


def test_draw_config_takes_the_first_initial_entry(tmp_path: Path) -> None:
    space = _space(
        tmp_path,
        initial=[{"General/x": 0.5, "General/kernel": "linear"}, {"General/x": 0.9}],
        fixed={"General/other": 8},
    )
    config = draw_config(space, TEMPLATE)
    assert dict(config.values) == {"General/x": 0.5, "General/kernel": "linear"}
    assert "initial" in config.origin
    # 0.5 is the template's own x: a run cannot tell whether it reached the code
    assert (sorted(config.verified), config.unverified) == (["General/kernel", "General/other"], ("General/x",))


def test_draw_config_cannot_change_a_single_choice(tmp_path: Path) -> None:
    space = _space(tmp_path, parameters={"General/kernel": {"type": "categorical", "choices": ["rbf"]}})
    config = draw_config(space, TEMPLATE, seed=1)
    assert (config.verified, config.unverified) == ((), ("General/kernel",))


def test_compare_reads_values_as_clearml_stores_them() -> None:
    sent = {"General/x": "0.25", "General/n": "2", "General/flag": "True", "Extra/y": "7.5", "General/z": "1"}
    reported = {"General/x": "0.25", "General/n": "2.0", "General/flag": "true", "Extra/y": "1.0"}
    assert compare(sent, reported, list(sent)) == [
        Mismatch("Extra/y", "7.5", "1.0", "parameters"),
        Mismatch("General/z", "1", None, "parameters"),
    ]
    assert compare(sent, reported, ["General/x"]) == []  # only the names asked for


def test_command_line_is_the_agents_line() -> None:
    console = [
        "Executing task id [abc]:\nentry_point = train.py\n",
        "Running task id [abc]:\n[.]$ /venv/bin/python -u train.py --C 1.0 '--kernel=rbf' --verbose\nNo freeze\n",
    ]
    assert command_line(console) == ["/venv/bin/python", "-u", "train.py", "--C", "1.0", "--kernel=rbf", "--verbose"]
    assert command_line(["no command here", "[x] $ not the agent's"]) is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "-u", "train.py"], []),
        (["python", "-u", "train.py", "--C", "3.5", "--gamma=0.5"], []),  # same values
        (["python", "-u", "train.py", "--C", "1.0"], [Mismatch("Args/C", "3.5", "--C 1.0", "command line")]),
        (
            ["python", "train.py", "--learning-rate=0.1"],
            [Mismatch("Args/learning_rate", "0.01", "--learning_rate 0.1", "command line")],
        ),
        (["python", "train.py", "--gamma", "--C", "3.5"], []),  # a flag before an option
    ],
)
def test_argv_overrides(argv: list[str], expected: list[Mismatch]) -> None:
    sent = {"Args/C": "3.5", "Args/gamma": "0.5", "Args/learning_rate": "0.01", "General/C": "9"}
    assert argv_overrides(argv, sent) == expected


def test_missing_objectives() -> None:
    objectives = [Objective("validation", "score", "max"), Objective("validation", "cost", "min")]
    metrics = {"validation": {"score": {"last": 1.0}}, "train": {"cost": {"last": 2.0}}}
    assert missing_objectives(metrics, objectives) == ["validation/cost"]
    assert missing_objectives({}, objectives[:1]) == ["validation/score"]


def test_report_message_names_the_parameter_and_the_fix() -> None:
    config = CanaryConfig({"General/x": 0.25}, "the space's first initial: entry", ("General/x", "Extra/y"), ())
    report = CanaryReport("t1", "completed", config, [Mismatch("Extra/y", "7.5", "1.0", "parameters")])
    assert not report.ok
    assert "Extra/y did not reach the code (Extra/y: sent 7.5, the task reports 1.0" in report.message()
    assert "ignore_remote_overrides" in report.message()
    missing = CanaryReport("t1", "completed", config, missing_objectives=["validation/score"])
    assert not missing.ok and "without reporting validation/score" in missing.message()
    failed = CanaryReport("t1", "failed", config, error="boom")
    assert not failed.ok and "did not complete (failed): boom" in failed.message()
    assert CanaryReport("t1", "completed", config).ok


# A user's script that pins one argument: `ignore_remote_overrides=True` keeps the value the code has
# whatever the task says (what the SDK then writes back into the task is what the canary reads).
PINNED = """
from clearml import Task

task = Task.init(project_name="search tests", task_name="pinned")
args = task.connect({"x": 0.5})
extra = task.connect({"y": 1.0}, name="Extra", ignore_remote_overrides=True)
value = 1.0 - (float(args["x"]) - 0.3) ** 2 - float(extra["y"]) * 0.0
task.get_logger().report_scalar("validation", "score", value=value, iteration=0)
"""

REGISTER_PINNED = """
import json, sys
from clearml import Task
task = Task.create(project_name="search tests", task_name="pinned", script=sys.argv[1], add_task_init_call=False,
                   force_single_script_file=True, binary="python3", packages=["clearml"])
task.set_parameters({"General/x": 0.5, "Extra/y": 1.0})
task.add_tags(["hpo-template", "template:pinned"])
print("RESULT " + json.dumps(task.id))
"""

CANARIES = """
import json
from clearml import Task
rows = Task.query_tasks(project_name="search tests", tags=["hpo-canary"], additional_return_fields=["status", "tags"])
print("RESULT " + json.dumps([{"id": r["id"], "status": str(r["status"]), "tags": r["tags"]} for r in rows]))
"""


def test_check_stops_a_search_whose_script_ignores_an_argument(search_env: SearchEnv) -> None:
    script = search_env.root / "pinned.py"
    script.write_text(PINNED)
    search_env.env.run(REGISTER_PINNED, str(script))
    space = search_env.space(
        "pinned",
        template="pinned",
        trials=4,
        parameters={
            "General/x": {"type": "float", "low": 0.0, "high": 1.0},
            "Extra/y": {"type": "float", "low": 2.0, "high": 3.0},
        },
    )
    run = search_env.hpo("search", str(space), "--check", "--local-workers", "1", "--json")
    assert run.returncode == 1, run.stdout + run.stderr[-4000:]
    error = " ".join(run.stderr.split())
    assert "--check: canary task" in error and "Extra/y did not reach the code" in error, error
    assert "Extra/y: sent 2." in error and "the task reports 1.0 after its run" in error
    assert "General/x: sent" not in error  # x reached the code
    canaries = search_env.env.run(CANARIES).result
    assert [c["status"] for c in canaries] == ["completed"] and "from-template:pinned" in canaries[0]["tags"]
    assert search_env.trials() == []  # no trial launched
    assert all(t["state"] != "COMPLETE" for t in search_env.study_so_far("pinned"))
    attrs = search_env.study_attrs("pinned")
    assert attrs[StudyAttr.STATE] == SearchState.FAILED
    assert "Extra/y did not reach the code" in attrs[StudyAttr.STOP_REASON]


def test_check_passes_a_script_that_takes_every_value(search_env: SearchEnv) -> None:
    space = search_env.space(trials=2, parameters={"General/x": {"type": "float", "low": 0.0, "high": 1.0}})
    summary = search_env.search(space, "--check", "--local-workers", "1")
    assert summary["state"] == "finished" and summary["counts"]["completed"] == 2
    assert [c["status"] for c in search_env.env.run(CANARIES).result] == ["completed"]
