"""The study package: lookup, names, state words, summaries, and what it sits below."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from hpo import study as hs
from hpo.errors import ConfigError, NotFoundError


@pytest.fixture
def storage(tmp_path: Path) -> optuna.storages.BaseStorage:
    return hs.open_storage(f"sqlite:///{tmp_path / 'studies.db'}")


def _make(storage: optuna.storages.BaseStorage, name: str, **attrs: object) -> optuna.Study:
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    study.set_user_attr(hs.StudyAttr.OBJECTIVES, [["validation", "accuracy", "max"]])
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    return study


def test_load_names_the_missing_study_and_the_known_ones(storage: optuna.storages.BaseStorage) -> None:
    _make(storage, "a")
    assert hs.load("a", storage).study_name == "a"
    with pytest.raises(NotFoundError, match=r"no study 'b' in the storage \(studies: a\).*hpo studies"):
        hs.load("b", storage)


def test_load_and_latest_take_a_url_as_well_as_a_storage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    _make(hs.open_storage(url), "s", started=1.0)
    assert hs.load("s", url).study_name == "s"
    assert hs.study_names(url) == ["s"]
    assert hs.latest(url) == "s"


def test_latest_is_the_last_started_of_any_space_or_of_one(storage: optuna.storages.BaseStorage) -> None:
    assert hs.latest(storage) is None
    _make(storage, "t1", space_name="tfidf", started=10.0)
    _make(storage, "b1", space_name="bert", started=30.0)
    _make(storage, "t2", space_name="tfidf", started=20.0)
    assert hs.latest(storage) == "b1"
    assert hs.latest(storage, "tfidf") == "t2"
    assert hs.latest(storage, "other") is None


def test_new_study_name_numbers_a_taken_name(storage: optuna.storages.BaseStorage) -> None:
    assert hs.new_study_name(storage, "tfidf") == "tfidf"
    _make(storage, "tfidf")
    assert hs.new_study_name(storage, "tfidf") == "tfidf-2"
    _make(storage, "tfidf-7")
    assert hs.new_study_name(storage, "tfidf") == "tfidf-8"


def test_state_words_are_stored_and_shown_as_plain_strings(storage: optuna.storages.BaseStorage) -> None:
    study = _make(storage, "s")
    study.set_user_attr(hs.StudyAttr.STATE, hs.SearchState.STOPPED)
    stored = hs.load("s", storage).user_attrs[hs.StudyAttr.STATE]
    assert type(stored) is str and stored == "stopped" == hs.SearchState.STOPPED
    assert f"{hs.TrialLabel.QUEUED}" == str(hs.TrialLabel.QUEUED) == "queued"
    assert json.dumps({hs.TrialAttr.STATE: hs.TrialLabel.PRUNED}) == '{"state": "pruned"}'


def _controller_attrs(pid: int) -> dict[str, object]:
    return {
        hs.StudyAttr.STATE: hs.SearchState.RUNNING,
        hs.StudyAttr.CONTROLLER: {"pid": pid, "host": os.uname().nodename},
        hs.StudyAttr.HEARTBEAT: time.time(),
        hs.StudyAttr.STARTED: time.time() - 5,
        hs.StudyAttr.BUDGET: 3,
    }


def test_summary_says_interrupted_when_a_running_study_lost_its_controller(
    storage: optuna.storages.BaseStorage,
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _make(storage, "dead", **_controller_attrs(int(dead.stdout)))
    _make(storage, "alive", **_controller_attrs(os.getpid()))
    assert hs.summarize(hs.load("dead", storage)).state == hs.SearchState.INTERRUPTED
    assert hs.summarize(hs.load("alive", storage)).state == hs.SearchState.RUNNING


def test_summary_counts_labels_and_skips_never_launched_failures(storage: optuna.storages.BaseStorage) -> None:
    study = _make(storage, "s", **_controller_attrs(os.getpid()))
    done = study.ask()
    attrs = {"task_id": "t0", "state": "completed"}
    hs.finish_trial(storage, study, done.number, optuna.trial.TrialState.COMPLETE, attrs, [0.8])
    unlaunched = study.ask()
    hs.finish_trial(storage, study, unlaunched.number, optuna.trial.TrialState.FAIL, {"state": "failed"})
    queued = study.ask()
    queued.set_user_attr(hs.TrialAttr.TASK_ID, "t2")
    queued.set_user_attr(hs.TrialAttr.STATE, hs.TrialLabel.QUEUED)
    summary = hs.summarize(hs.load("s", storage))
    assert summary.counts["completed"] == 1 and summary.counts["queued"] == 1 and summary.counts["failed"] == 0
    assert summary.done == 1 and summary.best_value == 0.8 and summary.best_task_id == "t0"
    assert summary.eta_s is not None  # one of three trials is over while the search runs


def test_objectives_of_reads_the_attribute_and_checks_it(storage: optuna.storages.BaseStorage) -> None:
    study = _make(storage, "s")
    assert [o.name for o in hs.objectives_of(study)] == ["validation/accuracy"]
    bare = optuna.create_study(storage=storage, study_name="bare")
    with pytest.raises(ConfigError, match="no 'objectives' user attribute"):
        hs.objectives_of(bare)
    study.set_user_attr(hs.StudyAttr.OBJECTIVES, [["validation", "loss", "min"]])
    with pytest.raises(ConfigError, match="disagree with the study's directions"):
        hs.objectives_of(hs.load("s", storage))


IMPORTS = """
import sys, importlib
importlib.import_module(sys.argv[1])
print(" ".join(m for m in sys.argv[2:] if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("hpo.study", ["clearml", "hpo.search", "hpo.promotion", "hpo.dashboard"]),
        ("hpo.promotion", ["hpo.search", "clearml.automation"]),
        ("hpo.search", ["clearml.automation"]),
        ("hpo.dashboard", ["hpo.search", "clearml.automation"]),
    ],
)
def test_the_study_sits_below_search_promotion_and_dashboard(module: str, forbidden: list[str]) -> None:
    """No cycle between search and promotion, and nothing reading a study pulls ClearML's optimizer."""
    out = subprocess.run([sys.executable, "-c", IMPORTS, module, *forbidden], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [], f"importing {module} imported {out.stdout.split()}"


@pytest.mark.parametrize("module", ["hpo.study", "hpo.search"])
def test_exports_are_what_is_public(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(n for n in vars(mod) if not n.startswith("_"))
