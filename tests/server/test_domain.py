"""The server's domain layer (``hpo.server.domain``) on a real store: statuses, queues, projects, last_metrics.

The API's semantics tests cover the same rules over HTTP; these pin the domain's own contract,
which the routes and the web UI both rely on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hpo.server import domain
from hpo.server._errors import APIError
from hpo.server.store import Database, Event, Store

OWNER = {
    "user": "u",
    "company": "c",
    "created": "2026-01-01T00:00:00+00:00",
    "last_update": "2026-01-01T00:00:00+00:00",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Database(tmp_path / "server.db")
    yield Store(db)
    db.close()


def scalar(iteration: int, value: float, variant: str = "loss") -> dict[str, object]:
    return {"metric": "train", "variant": variant, "iter": iteration, "value": value, "timestamp": iteration}


def test_last_metrics_keep_last_by_iteration_extremes_and_mean() -> None:
    task: dict[str, object] = {"id": "t"}
    for iteration, value in [(0, 4.0), (2, 1.0), (1, 7.0), (3, 2.0)]:
        domain.update_last_metrics(task, scalar(iteration, value), value)
    last = domain.last_metric(task, "train", "loss")
    assert last is not None
    assert (last["value"], last["iter"]) == (2.0, 3)
    assert (last["min_value"], last["min_value_iteration"]) == (1.0, 2)
    assert (last["max_value"], last["max_value_iteration"]) == (7.0, 1)
    assert (last["count"], last["mean_value"]) == (4, pytest.approx(3.5))
    assert task["last_iteration"] == 3
    assert domain.last_metric(task, "train", "other") is None


@pytest.mark.parametrize("new", sorted(domain.ALLOWED_FROM))
def test_every_move_is_refused_from_a_status_it_does_not_allow_unless_forced(new: str) -> None:
    refused = next(s for s in domain.STATUSES if s not in domain.ALLOWED_FROM[new])
    task = {"id": "t", "status": refused}
    with pytest.raises(APIError) as err:
        domain.set_status(task, new, allowed_from=domain.ALLOWED_FROM[new])
    assert (err.value.code, err.value.subcode, task["status"]) == (400, 110, refused)
    fields = domain.set_status(task, new, allowed_from=domain.ALLOWED_FROM[new], force=True, reason="r")
    assert task["status"] == fields["status"] == new and fields["status_reason"] == "r"


def test_started_and_ended_dates_follow_the_status() -> None:
    task = {"id": "t", "status": "queued"}
    assert "started" in domain.set_status(task, "in_progress")
    assert "completed" in domain.set_status(task, "completed")


def test_only_a_draft_is_edited_without_force() -> None:
    domain.require_draft({"id": "t", "status": "created"}, force=False)
    domain.require_draft({"id": "t", "status": "completed"}, force=True)
    with pytest.raises(APIError, match="only a draft is editable; clone it"):
        domain.require_draft({"id": "t", "status": "in_progress"}, force=False)
    with pytest.raises(APIError) as err:
        domain.reject_published({"id": "t", "status": "published"}, "reset")
    assert err.value.subcode == 113


def test_ensure_project_creates_missing_parents_once_and_hides_dot_paths(store: Store) -> None:
    leaf = domain.ensure_project(store, " a / .datasets / d ", OWNER, {"description": "x"})
    parent = domain.project_by_name(store, "a/.datasets")
    root = domain.project_by_name(store, "a")
    assert root is not None and parent is not None
    assert leaf["name"] == "a/.datasets/d" and leaf["path"] == [root["id"], parent["id"]]
    assert leaf["description"] == "x" and parent["description"] == ""
    assert "hidden" in leaf["system_tags"] and root["system_tags"] == []
    assert domain.ensure_project(store, "a/.datasets/d", OWNER)["id"] == leaf["id"]
    assert set(domain.descendants(store, [root["id"]])) == {root["id"], parent["id"], leaf["id"]}
    with pytest.raises(APIError, match="non-empty parts"):
        domain.ensure_project(store, "a//b", OWNER)


def test_a_task_waits_in_one_place_and_leaves_every_queue(store: Store) -> None:
    first = domain.create_queue(store, "q1", OWNER)
    second = domain.create_queue(store, "q2", OWNER)
    domain.add_entry(store, first["id"], "t1")
    domain.add_entry(store, first["id"], "t2")
    domain.add_entry(store, first["id"], "t1")  # again: to the back
    entries = (store.queues.get(first["id"]) or {})["entries"]
    assert [e["task"] for e in entries] == ["t2", "t1"]
    domain.add_entry(store, second["id"], "t1")
    assert domain.remove_task_entry(store, {"id": "t1"}) is True
    assert domain.queue_of(store, "t1") is None and domain.remove_task_entry(store, {"id": "t1"}) is False
    with pytest.raises(APIError) as err:
        domain.create_queue(store, "q1", OWNER)
    assert err.value.subcode == 707


def test_resolve_queue_by_id_name_or_the_default_created_once(store: Store) -> None:
    named = domain.create_queue(store, "gpu", OWNER)
    assert domain.resolve_queue(store, named["id"], None, OWNER)["id"] == named["id"]
    assert domain.resolve_queue(store, "gpu", None, OWNER)["id"] == named["id"]  # the agent sends names as ids
    default = domain.resolve_queue(store, None, None, OWNER)
    assert default["name"] == domain.DEFAULT_QUEUE and domain.resolve_queue(store, None, None, OWNER) == default
    with pytest.raises(APIError) as err:
        domain.resolve_queue(store, None, "missing", OWNER)
    assert err.value.subcode == 701


def test_a_worker_expires_after_its_own_timeout_else_the_default() -> None:
    assert domain.expired({"seen": 0.0, "timeout": 30}, now=31.0)
    assert not domain.expired({"seen": 0.0, "timeout": 30}, now=29.0)
    assert not domain.expired({"seen": 0.0}, now=domain.DEFAULT_TIMEOUT_S - 1.0)


def test_a_run_is_deleted_only_archived_or_forced_and_goes_with_its_entries_and_events(store: Store) -> None:
    with pytest.raises(APIError) as err:
        domain.require_deletable({"id": "t", "status": "completed", "system_tags": []}, force=False)
    assert err.value.subcode == 123
    domain.require_deletable({"id": "t", "status": "completed", "system_tags": ["archived"]}, force=False)
    domain.require_deletable({"id": "t", "status": "failed"}, force=True)
    task = {"id": "t", "name": "run", "status": "queued"}
    store.tasks.put(task)
    queue = domain.create_queue(store, "q", OWNER)
    domain.add_entry(store, queue["id"], "t")
    store.events.add([Event("t", domain.SCALAR, "m", "v", i, i, float(i), {"iter": i}) for i in range(3)])
    store.commit()
    assert domain.delete_task(store, task) == 3
    store.commit()
    assert store.tasks.get("t") is None and domain.queue_of(store, "t") is None
    assert store.events.count("t", domain.SCALAR) == 0


def test_the_store_keys_every_event_type_but_console_lines_as_the_domain_says(store: Store) -> None:
    """ClearML stores a scalar, plot, image or vector event once per key; console lines as sent."""
    for kind in domain.EVENT_TYPES:
        row = Event("t", kind, "m", "v", 1, 1, 1.0 if kind == domain.SCALAR else None, {"iter": 1})
        store.events.add([row, row])
        store.commit()
        assert store.events.count("t", kind) == (2 if kind == domain.LOG else 1), kind
