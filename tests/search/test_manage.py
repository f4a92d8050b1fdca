"""Watching and stopping searches through the library: search_status, list_studies, stop_search.

The controller here is this test process itself (its pid and host in the study), so these need no
ClearML server; stopping a search whose controller died is tested end to end in test_search_run.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import optuna
import pytest

from hpo.errors import HPOError, NotFoundError
from hpo.search import list_studies, search_status, stop_search
from hpo.study import SearchState, StudyAttr, mark_controller, open_storage


@pytest.fixture
def storage(tmp_path: Path) -> optuna.storages.BaseStorage:
    return open_storage(f"sqlite:///{tmp_path / 'studies.db'}")


def _search(storage: optuna.storages.BaseStorage, name: str, started: float, state: str = "running") -> optuna.Study:
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    study.set_user_attr(StudyAttr.STARTED, started)
    study.set_user_attr(StudyAttr.BUDGET, 4)
    mark_controller(study)  # this process drives it
    study.set_user_attr(StudyAttr.STATE, state)
    return study


def test_status_is_of_the_latest_search_unless_one_is_named(storage: optuna.storages.BaseStorage) -> None:
    with pytest.raises(NotFoundError, match="no searches yet"):
        search_status(storage=storage)
    _search(storage, "old", started=1.0, state="finished")
    _search(storage, "new", started=2.0)
    assert search_status(storage=storage).study == "new"
    assert search_status("old", storage).state == SearchState.FINISHED
    with pytest.raises(NotFoundError, match="no study 'nope'"):
        search_status("nope", storage)


def test_list_studies_is_in_start_order(storage: optuna.storages.BaseStorage) -> None:
    _search(storage, "b", started=20.0)
    _search(storage, "a", started=10.0)
    assert [s.study for s in list_studies(storage)] == ["a", "b"]


def test_stop_search_asks_the_controller_and_waits_for_it(storage: optuna.storages.BaseStorage) -> None:
    study = _search(storage, "s", started=1.0)

    def controller() -> None:  # what the real one does on its next poll
        while not study.user_attrs.get(StudyAttr.STOP_REQUESTED):
            time.sleep(0.05)
        study.set_user_attr(StudyAttr.STATE, SearchState.STOPPED)

    thread = threading.Thread(target=controller)
    thread.start()
    result = stop_search("s", storage, timeout=30, poll_s=0.05)
    thread.join()
    assert result.state == SearchState.STOPPED and result.cleanup is None


def test_stop_search_of_an_ended_search_says_its_state(storage: optuna.storages.BaseStorage) -> None:
    _search(storage, "done", started=1.0, state="finished")
    assert stop_search("done", storage, timeout=1).state == SearchState.FINISHED


def test_stop_search_names_a_controller_that_does_not_stop(storage: optuna.storages.BaseStorage) -> None:
    _search(storage, "stuck", started=1.0)
    with pytest.raises(HPOError, match=r"'stuck' did not stop within 0.3 s"):
        stop_search("stuck", storage, timeout=0.3, poll_s=0.05)
