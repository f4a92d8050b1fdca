"""Bulk actions of the experiments table: one ``tasks.*_many`` call each; on a mix of tasks, the table
then lists those it could not apply to and the API's reason. In process, seeded through the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.ui import UI


def _task(ui: UI, task_id: str) -> dict[str, Any]:
    return dict(ui.api("tasks.get_by_id", {"task": task_id})["task"])


def _bulk(ui: UI, action: str, ids: list[str], **fields: Any) -> str:
    """Post the footer's form as the table does; returns the table page the redirect leads to."""
    back = "/projects/*/experiments?sort=name&order=asc"
    response = ui.post("/ui/actions/tasks-bulk", {"action": action, "ids": ids, "back": back, **fields})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(back + "&done=")
    return str(ui.client.get(location).text)


def _mix(ui: UI) -> tuple[str, str, str]:
    draft, running, done = ui.task("draft"), ui.task("running"), ui.task("done")
    ui.api("tasks.started", {"task": running})
    ui.api("tasks.started", {"task": done})
    ui.api("tasks.completed", {"task": done})
    return draft, running, done


def test_abort_on_a_mix_stops_the_running_one_and_says_why_not_the_others(ui: UI) -> None:
    draft, running, done = _mix(ui)
    ui.sign_in()
    page = _bulk(ui, "abort", [draft, running, done])
    assert "Abort: done for 1 of 3 selected; not applied to 2" in page
    assert "Abort not applied to &#39;done&#39;: Invalid task status" in page and "&#39;completed&#39;" in page
    assert "Abort not applied to &#39;draft&#39;" in page
    assert [_task(ui, t)["status"] for t in (draft, running, done)] == ["created", "stopped", "completed"]
    # the notice is shown once: the same link later shows none
    assert "Abort:" not in ui.client.get("/projects/*/experiments").text


def test_archive_then_restore_then_delete_what_may_go(ui: UI) -> None:
    draft, running, done = _mix(ui)
    ui.sign_in()
    assert "Archive: done for 3 of 3 selected" in _bulk(ui, "archive", [draft, running, done])
    assert all("archived" in _task(ui, t)["system_tags"] for t in (draft, running, done))
    assert "Restore from archive: done for 1 of 1 selected" in _bulk(ui, "unarchive", [draft])
    page = _bulk(ui, "delete", [draft, done, running])  # done and running are archived: they go too
    assert "Delete: done for 3 of 3 selected" in page
    assert ui.api("tasks.get_all", {"id": [draft, running, done]})["tasks"] == []


def test_delete_of_a_completed_task_is_refused_with_the_reason(ui: UI) -> None:
    draft, _, done = _mix(ui)
    ui.sign_in()
    page = _bulk(ui, "delete", [draft, done])
    assert "Delete: done for 1 of 2 selected" in page and "archive it first" in page
    assert _task(ui, done)["status"] == "completed"


def test_enqueue_and_dequeue_on_the_chosen_queue(ui: UI) -> None:
    draft, running, _ = _mix(ui)
    queue = ui.api("queues.create", {"name": "bulk-q"})["id"]
    ui.sign_in()
    assert f'<option value="{queue}">bulk-q</option>' in ui.client.get("/projects/*/experiments").text
    page = _bulk(ui, "enqueue", [draft, running], queue=queue)
    assert "Enqueue: done for 1 of 2 selected" in page and "Enqueue not applied to &#39;running&#39;" in page
    assert _task(ui, draft)["execution"]["queue"] == queue
    assert "Dequeue: done for 1 of 1 selected" in _bulk(ui, "dequeue", [draft])
    assert _task(ui, draft)["status"] == "created"


def test_tag_and_move(ui: UI) -> None:
    a, b = ui.task("a"), ui.task("b")
    ui.api("tasks.edit", {"task": a, "tags": ["old", "keep"]})
    target = ui.api("projects.create", {"name": "target"})["id"]
    ui.sign_in()
    page = _bulk(ui, "tags", [a, b], add_tags="new, x", remove_tags="old")
    assert "Tag: done for 2 experiments" in page
    assert _task(ui, a)["tags"] == ["keep", "new", "x"] and _task(ui, b)["tags"] == ["new", "x"]
    _bulk(ui, "move", [a], project=target)
    assert _task(ui, a)["project"] == target
    _bulk(ui, "move", [a, b], project="*", project_name="fresh/one")
    projects = {p["name"]: p["id"] for p in ui.api("projects.get_all", {})["projects"]}
    assert _task(ui, a)["project"] == _task(ui, b)["project"] == projects["fresh/one"]


def test_compare_goes_to_the_compare_page_with_the_ticked_ids(ui: UI) -> None:
    ids = [ui.task(f"t{i}") for i in range(3)]
    ui.sign_in()
    response = ui.post("/ui/actions/tasks-bulk", {"action": "compare", "ids": ids, "back": "/projects"})
    assert response.status_code == 303 and response.headers["location"] == "/compare?ids=" + "%2C".join(ids)


@pytest.mark.parametrize("back", ["https://evil.example/x", "//evil.example/", "/logout"])
def test_back_never_leaves_the_table(ui: UI, back: str) -> None:
    task_id = ui.task("t")
    ui.sign_in()
    response = ui.post("/ui/actions/tasks-bulk", {"action": "archive", "ids": [task_id], "back": back})
    assert response.headers["location"].startswith("/projects/*/experiments?done=")


def test_bulk_needs_the_csrf_token_and_a_known_action(ui: UI) -> None:
    task_id = ui.task("t")
    ui.sign_in()
    refused = ui.post("/ui/actions/tasks-bulk", {"action": "archive", "ids": [task_id]}, csrf=False)
    assert refused.status_code == 403 and "archived" not in (_task(ui, task_id).get("system_tags") or [])
    assert ui.post("/ui/actions/tasks-bulk", {"action": "explode", "ids": [task_id]}).status_code == 404
    page = ui.client.get(ui.post("/ui/actions/tasks-bulk", {"action": "abort"}).headers["location"]).text
    assert "Abort: no experiment selected" in page
