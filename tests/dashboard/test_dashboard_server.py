"""``start_dashboard`` and the linked storage view, over a study built with Optuna directly (no browser)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import optuna
import pytest

import hpo.dashboard
from hpo.dashboard import LinkedStorage, configured_web_host, start_dashboard, task_url
from hpo.errors import ConfigError, NotFoundError

WEB = "http://clearml-web.test:8080"


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    """A study as ``hpo search`` leaves it: ClearML attrs on each trial, objectives on the study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    study.set_user_attr("objectives", [["validation", "score", "max"]])
    for number in range(3):
        trial = study.ask()
        x = trial.suggest_float("General/x", 0.0, 1.0)
        trial.report(x / 2, 0)
        if number < 2:  # the last one never got a task (e.g. its launch failed)
            trial.set_user_attr("task_id", f"task{number}")
            trial.set_user_attr("queue", "default")
            trial.set_user_attr("state", "completed")
        study.tell(trial, x)
    return url


def _linked(url: str, web: str | None) -> tuple[LinkedStorage, int]:
    base = optuna.storages.RDBStorage(url)
    return LinkedStorage(base, web), base.get_study_id_from_name("s")


def test_linked_storage_adds_task_links_and_notes(storage_url: str) -> None:
    storage, study_id = _linked(storage_url, WEB)
    trials = storage.get_all_trials(study_id)
    assert [t.user_attrs.get("clearml_url") for t in trials] == [task_url(WEB, "task0"), task_url(WEB, "task1"), None]
    assert storage.get_trial(trials[1]._trial_id).user_attrs["clearml_url"] == task_url(WEB, "task1")
    (study,) = storage.get_all_studies()
    assert study.system_attrs["study:metric_names"] == ["validation/score"]
    notes = {k: v for k, v in study.system_attrs.items() if k.startswith(f"dashboard:{trials[0]._trial_id}:note_str")}
    body = "".join(notes.values())
    assert f"]({task_url(WEB, 'task0')})" in body and "**queue**: `default`" in body
    assert f"dashboard:{trials[2]._trial_id}:note_ver" not in study.system_attrs  # no task, no note


def test_linked_storage_writes_nothing(storage_url: str) -> None:
    storage, study_id = _linked(storage_url, WEB)
    storage.get_all_studies()
    storage.get_all_trials(study_id)
    plain = optuna.storages.RDBStorage(storage_url)
    assert "clearml_url" not in plain.get_all_trials(study_id)[0].user_attrs
    assert not plain.get_study_system_attrs(study_id)


def test_linked_storage_without_web_ui_adds_no_links(storage_url: str) -> None:
    storage, study_id = _linked(storage_url, None)
    assert all("clearml_url" not in t.user_attrs for t in storage.get_all_trials(study_id))
    (study,) = storage.get_all_studies()
    assert not any(k.startswith("dashboard:") for k in study.system_attrs)


def test_linked_storage_keeps_a_note_written_in_the_dashboard(storage_url: str) -> None:
    from optuna_dashboard import get_note, save_note

    study = optuna.load_study(study_name="s", storage=storage_url)
    trial = optuna.trial.Trial(study, study.trials[0]._trial_id)
    save_note(trial, "my own note")
    storage, _ = _linked(storage_url, WEB)
    linked = optuna.load_study(study_name="s", storage=storage)
    assert get_note(optuna.trial.Trial(linked, study.trials[0]._trial_id)) == "my own note"
    assert "ClearML" in get_note(optuna.trial.Trial(linked, study.trials[1]._trial_id))


@pytest.mark.parametrize(
    ("arg", "env", "conf", "expected"),
    [
        ("http://arg/", "http://env", "http://conf", "http://arg"),
        (None, "http://env/", "http://conf", "http://env"),
        (None, None, "http://conf/", "http://conf"),
        (None, None, None, None),
    ],
)
def test_configured_web_host_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arg: str | None, env: str | None, conf: str | None, expected: str
) -> None:
    config = tmp_path / "clearml.conf"
    config.write_text(f'api {{ web_server: "{conf}" }}\n' if conf else "sdk {}\n")
    monkeypatch.setenv("CLEARML_CONFIG_FILE", str(config))
    if env:
        monkeypatch.setenv("CLEARML_WEB_HOST", env)
    else:
        monkeypatch.delenv("CLEARML_WEB_HOST", raising=False)
    assert configured_web_host(arg) == expected


def test_start_dashboard_serves_the_study_and_stops(storage_url: str) -> None:
    handle = start_dashboard(storage_url, "s", port=0, web_host=WEB)
    try:
        assert handle.url == f"http://127.0.0.1:{handle.port}/dashboard/studies/1"
        assert httpx.get(handle.url, timeout=10).status_code == 200
        detail = httpx.get(f"http://127.0.0.1:{handle.port}/api/studies/1", timeout=10).json()
        assert [t["number"] for t in detail["trials"]] == [0, 1, 2]
        assert {"key": "clearml_url", "value": task_url(WEB, "task0")} in detail["trials"][0]["user_attrs"]
        assert detail["objective_names"] == ["validation/score"]
    finally:
        handle.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(handle.url, timeout=2)
    handle.stop()  # idempotent


def test_start_dashboard_names_a_missing_study(storage_url: str) -> None:
    with pytest.raises(NotFoundError, match=r"no study 'nope' .*studies: s"):
        start_dashboard(storage_url, "nope", port=0)


def test_start_dashboard_port_in_use_names_the_fix(storage_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} .* in use; pass another with --port"):
            start_dashboard(storage_url, port=port)


def test_dashboard_exports_are_public() -> None:
    assert sorted(hpo.dashboard.__all__) == sorted(n for n in vars(hpo.dashboard) if not n.startswith("_"))
