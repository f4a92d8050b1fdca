"""A user's run or script as a template: a parent-less draft copy made once, and bad input refused.

Real server, real SDK, the user-style scripts of :mod:`tests.templates._scripts`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo.search._space import load_space
from hpo.templates._introspect import HYDRA_EDIT
from hpo.templates._source import TemplateSource
from tests.support.data import hpo_cli
from tests.support.search import SearchEnv
from tests.support.server import Env
from tests.templates import _scripts

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

TASKS = """
import json
from clearml import Task
rows = Task.query_tasks(project_name="user scripts", additional_return_fields=["name", "status", "parent", "tags"])
print("RESULT " + json.dumps([{k: r.get(k) for k in ("id", "name", "status", "parent", "tags")} for r in rows],
      default=str))
"""


SWITCH_ON = """
import sys
from clearml.backend_api.session.client import APIClient
APIClient().tasks.edit_hyper_params(
    task=sys.argv[1], hyperparams=[{"section": "Hydra", "name": "_allow_omegaconf_edit_", "value": "True"}], force=True
)
"""


def user_tasks(env: Env) -> list[dict[str, Any]]:
    """Every task of the scripts' project."""
    return list(env.run(TASKS).result)


def hand_run(env: Env, code: str, name: str = "train.py") -> str:
    """Run a user script by hand, as a user would; the id of its run."""
    script = _scripts.write(env.root, name, code)
    out = env.run(script.read_text())
    [line] = [line for line in out.output.splitlines() if "ClearML Task: created new task id=" in line]
    return line.split("id=")[1].split()[0]


def test_template_add_copies_a_run_once_and_leaves_it_alone(clearml: Env) -> None:
    run_id = hand_run(clearml, _scripts.CONNECT)
    first = hpo_cli(clearml.vars, "template", "add", run_id, "--json")
    assert first.returncode == 0, first.stderr
    copy = first.json()
    assert copy["key"] == "connect-run" and copy["created_now"] is True and copy["source"] == run_id
    again = hpo_cli(clearml.vars, "template", "add", run_id, "--json").json()
    assert again["id"] == copy["id"] and again["created_now"] is False  # the same run reuses its copy

    tasks = {t["id"]: t for t in user_tasks(clearml)}
    assert set(tasks) == {run_id, copy["id"]}
    run, made = tasks[run_id], tasks[copy["id"]]
    assert run["status"] == "completed" and not run["tags"]  # the user's run is not modified
    assert made["status"] == "created" and not made["parent"]
    assert sorted(made["tags"]) == sorted(
        ["hpo-template", "template:connect-run", f"template-version:{copy['version']}", f"template-source:{run_id}"]
    )
    params = clearml.run(
        f"""
        import json
        from clearml import Task
        task = Task.get_task(task_id="{copy["id"]}")
        print("RESULT " + json.dumps(task.get_parameters(backwards_compatibility=False)))
        """
    ).result
    assert params == {"General/lr": "0.1", "General/layers": "2", "General/optimizer": "adam"}
    listed = hpo_cli(clearml.vars, "template", "list", "--json").json()
    assert [t["id"] for t in listed] == [copy["id"]]
    found = clearml.run(
        """
        import json
        from hpo.templates._source import TemplateSource
        from hpo.templates._user import source_run
        print("RESULT " + json.dumps(source_run(TemplateSource("k", project="user scripts", name="connect run"))))
        """
    ).result
    assert found == run_id  # {project, name}: the newest completed run of that name, never the copy


def test_template_reference_reads_from_the_space(tmp_path: Path) -> None:
    doc = {
        "template": {"script": "train.py", "key": "digits"},
        "objective": {"title": "validation", "series": "accuracy"},
        "parameters": {"Args/C": {"type": "log-float", "low": 0.1, "high": 10}},
    }
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(doc))
    space = load_space(path)
    assert space.template == "digits"
    assert space.template_source == TemplateSource("digits", script=(tmp_path / "train.py").resolve())
    doc["template"] = {"project": "P", "name": "digits svc"}
    path.write_text(yaml.safe_dump(doc))
    assert load_space(path).template_source == TemplateSource("digits-svc", project="P", name="digits svc")
    doc["template"] = {"task": "abc", "script": "x.py"}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(Exception, match=r"expected one of \{task: ID\}"):
        load_space(path)


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing task", "task 'no-such-task' does not exist on this server; fix:"),
        ("no parameters", "has no parameters to search; fix: connect its arguments"),
        ("missing script", "does not exist; fix: pass the path of your training script"),
        ("failing script", "failed on its first run (exit code 1); fix:"),
    ],
)
def test_space_init_refuses_bad_input_with_the_fix(clearml: Env, case: str, fragment: str) -> None:
    if case == "missing task":
        args = ["--task", "no-such-task"]
    elif case == "no parameters":
        args = ["--task", hand_run(clearml, _scripts.NO_PARAMETERS)]
    elif case == "missing script":
        args = ["--script", str(clearml.root / "nowhere.py")]
    else:
        args = ["--script", str(_scripts.write(clearml.root, "fails.py", _scripts.FAILING))]
    before = user_tasks(clearml)
    result = hpo_cli(clearml.vars, "space", "init", *args, "-o", str(clearml.root / "space.yaml"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert fragment in " ".join(result.stderr.split()), result.stderr
    assert not (clearml.root / "space.yaml").exists()
    assert user_tasks(clearml) == before  # nothing left behind (the failed first run is deleted)
    if case == "failing script":
        assert "RuntimeError: no such file: data.csv" in " ".join(result.stderr.split())  # its last console lines


def test_space_init_prints_yaml_unwrapped_and_logs_no_sdk_error(clearml: Env) -> None:
    run_id = hand_run(clearml, _scripts.CONNECT)
    narrow = {**clearml.vars, "COLUMNS": "40"}  # a terminal narrower than the header comment
    result = hpo_cli(narrow, "space", "init", "--task", run_id)
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(result.stdout)  # printed as written, so `> space.yaml` is the space
    assert doc["template"] == {"task": run_id, "key": "connect-run"}
    missing = hpo_cli(narrow, "space", "init", "--task", "0" * 32)
    assert missing.returncode == 1 and "does not exist on this server" in " ".join(missing.stderr.split())
    assert "clearml.Task - ERROR" not in missing.stderr  # the one line that names the fix, no SDK noise


def _space(env: Env, run_id: str, name: str = "space", **fields: Any) -> Path:
    doc: dict[str, Any] = {
        "template": {"task": run_id, "key": "mine"},
        "objective": {"title": "validation", "series": "accuracy", "direction": "max"},
        "trials": 2,
        "parameters": {"General/epochs": {"type": "int", "low": 1, "high": 3}},
    }
    doc.update(fields)
    path = env.root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_search_refuses_a_space_that_does_not_fit_the_run(search_env: SearchEnv) -> None:
    env = search_env.env
    config_run = hand_run(env, _scripts.CONFIG_OBJECT, "config.py")
    connect_run = hand_run(env, _scripts.CONNECT, "connect.py")
    hydra_run = hand_run(env, _scripts.HYDRA, "hydra_train.py")
    hydra_task = f'Task.get_task(task_id="{hydra_run}")'
    env.run(f'from clearml import Task; {hydra_task}.delete_parameter("{HYDRA_EDIT}", force=True)')
    lr = {"type": "log-float", "low": 0.01, "high": 1.0}
    cases = [
        (
            _space(env, config_run, "case1", parameters={"train config/lr": lr}),
            "parameters.train config/lr: 'train config' is a configuration object (connect_configuration), which a"
            " search cannot set; fix: search the run's parameters: General/epochs",
        ),
        (
            _space(env, config_run, "case2", objective={"title": "validation", "series": "nope"}),
            "objective: template 'mine' never reported validation/nope; fix: pick one it reported: validation/accuracy",
        ),
        (
            _space(
                env,
                connect_run,
                "case7",
                objective={"title": "eval", "series": "f1"},
                pruner="median",
                parameters={"General/lr": lr},
            ),
            "pruner: 'median' stops trials on the objective's intermediate values, but template 'mine' reported"
            " eval/f1 at a single iteration: nothing to prune; fix: set `pruner: none`",
        ),
        (
            _space(
                env, connect_run, "case3", objective={"title": "eval", "series": "f1"}, parameters={"General/lrr": lr}
            ),
            "parameters.General/lrr: template 'mine' has no such parameter; use one of its parameters: General/layers,"
            " General/lr, General/optimizer",
        ),
        (
            _space(env, hydra_run, "case4", parameters={"Hydra/lr": lr}),
            "parameters.Hydra/lr: template 'mine' has no Hydra/_allow_omegaconf_edit_, so it was not recorded by"
            " ClearML's Hydra binding",
        ),
        (
            _space(env, hydra_run, "case5", parameters={"OmegaConf/lr": lr}),
            "'OmegaConf' is a configuration object (connect_configuration), which a search cannot set; fix: search"
            " Hydra/<key> overrides such as the run's parameters: Hydra/lr, Hydra/model.act, Hydra/model.depth (or",
        ),
    ]
    before = user_tasks(env)
    for path, fragment in cases:
        result = search_env.hpo("search", str(path), "--local-workers", "1")
        assert result.returncode == 1, result.stdout + result.stderr
        assert fragment in " ".join(result.stderr.split()), result.stderr
    assert user_tasks(env) == before  # no copy, no trial
    assert all(not search_env.study_so_far(f"case{n}") for n in range(1, 8))
    # The Hydra run with the switch on: refused with the fix.
    env.run(SWITCH_ON, hydra_run)  # a completed run is edited only with force, as the web UI does
    result = search_env.hpo(
        "search", str(_space(env, hydra_run, "case6", parameters={"Hydra/lr": lr})), "--local-workers", "1"
    )
    assert (
        "ClearML ignores the Hydra/ section" in result.stderr
        and "_allow_omegaconf_edit_: false` under fixed:" in result.stderr
    )


def test_search_of_a_script_refused_leaves_no_run_behind(search_env: SearchEnv) -> None:
    env = search_env.env
    failing = _scripts.write(env.root, "fails.py", _scripts.FAILING)
    connect = _scripts.write(env.root, "connect.py", _scripts.CONNECT)
    doc: dict[str, Any] = {
        "template": {"script": "fails.py"},
        "objective": {"title": "eval", "series": "f1"},
        "parameters": {"General/lr": {"type": "float", "low": 0.0, "high": 1.0}},
    }
    cases = [
        (failing.name, "failed on its first run (exit code 1)"),
        ("nowhere.py", "template.script: " + str(env.root / "nowhere.py") + " does not exist; fix:"),
        (connect.name, "parameters.General/lrr: template 'connect' has no such parameter"),
    ]
    for script, fragment in cases:
        doc["template"] = {"script": script}
        if script == connect.name:
            doc["parameters"] = {"General/lrr": {"type": "float", "low": 0.0, "high": 1.0}}
        path = env.root / "space.yaml"
        path.write_text(yaml.safe_dump(doc))
        result = search_env.hpo("search", str(path), "--local-workers", "1")
        assert result.returncode == 1, result.stdout + result.stderr
        assert fragment in " ".join(result.stderr.split()), result.stderr
        assert user_tasks(env) == []  # the run this search made is deleted; no copy


def test_a_first_run_reads_the_users_configuration_and_detects_its_code_in_task_init(tmp_path: Path) -> None:
    import warnings

    from clearml.utilities.pyhocon import ConfigFactory

    from hpo.templates._user import _first_run_config

    def parse(env: dict[str, str]) -> Any:
        with warnings.catch_warnings():  # the vendored parser calls pyparsing with deprecated names
            warnings.simplefilter("ignore", DeprecationWarning)
            return ConfigFactory.parse_file(str(_first_run_config(tmp_path / "run", env)))

    own = tmp_path / "own.conf"
    own.write_text("sdk { development { vcs_repo_detect_async: true, task_reuse_time_window_in_hours: 5 } }\n")
    (tmp_path / "run").mkdir()
    conf = parse({"CLEARML_CONFIG_FILE": str(own)})
    assert conf.get("sdk.development.task_reuse_time_window_in_hours") == 5  # the user's settings stay
    assert conf.get("sdk.development.vcs_repo_detect_async") is False  # no detection thread to kill at exit
    assert parse({"HOME": str(tmp_path / "nohome")}).get("sdk.development.vcs_repo_detect_async") is False
