"""``events.*`` semantics as ClearML Server has them, in-process (Starlette's TestClient).

Idempotent events (a re-sent batch is stored once), partly bad batches, console paging by
timestamp, debug image paging and scalar down-sampling; each case is read from ClearML Server's
``apiserver/bll/event`` and ``apiserver/services/events.py``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from hpo.server.store import Database, Store
from tests.support.api import in_process_app
from tests.support.ui import BASE

SCALAR, LOG, PLOT, IMAGE = "training_stats_scalar", "log", "plot", "training_debug_image"


class API:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def raw(self, endpoint: str, body: Any) -> Any:  # a TestClient response
        if isinstance(body, list):
            content = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in body).encode()
            headers = {"Content-Type": "application/json-lines"}
            return self.client.request("GET", f"/v2.23/{endpoint}", content=content, headers=headers)
        return self.client.request("GET", f"/v2.23/{endpoint}", json=body)

    def call(self, endpoint: str, body: Any) -> dict[str, Any]:
        response = self.raw(endpoint, body)
        assert response.status_code == 200, f"{endpoint} -> {response.status_code}: {response.text[:500]}"
        return dict(response.json()["data"])


@pytest.fixture
def api(tmp_path: Path) -> Iterator[API]:
    with in_process_app(tmp_path / "server", base_url=BASE) as (client, token):
        client.headers["Authorization"] = f"Bearer {token}"
        yield API(client)


@pytest.fixture
def task(api: API) -> str:
    return str(api.call("tasks.create", {"name": "events", "type": "training"})["id"])


def scalar(task: str, i: int, value: float | None = None, variant: str = "train") -> dict[str, Any]:
    return {"type": SCALAR, "task": task, "metric": "loss", "variant": variant, "iter": i,
            "value": float(i) if value is None else value, "timestamp": 1_000 + i}  # fmt: skip


def image(task: str, i: int, url: str, variant: str = "v") -> dict[str, Any]:
    key = url.split("//", 1)[-1]
    return {"type": IMAGE, "task": task, "metric": "m", "variant": variant, "iter": i, "url": url, "key": key,
            "timestamp": 1_000 + i}  # fmt: skip


def events_of(api: API, task: str, kind: str) -> list[dict[str, Any]]:
    body = {"task": task, "event_type": kind, "batch_size": 10_000}
    return list(api.call("events.get_task_events", body)["events"])


def test_resent_batch_is_stored_once_and_log_lines_are_appended(api: API, task: str) -> None:
    batch = [scalar(task, i) for i in range(10)] + [
        {"type": PLOT, "task": task, "metric": "p", "variant": "s", "iter": 3, "plot_str": "{}", "timestamp": 5},
        image(task, 3, "http://files/m/v_3.png"),
        {"type": LOG, "task": task, "msg": "hello", "level": "info", "timestamp": 7},
    ]
    assert api.call("events.add_batch", batch)["added"] == 13
    assert api.call("events.add_batch", batch)["added"] == 13  # the SDK's retry of a committed batch

    assert api.call("events.scalar_metrics_iter_histogram", {"task": task})["loss"]["train"]["x"] == list(range(10))
    assert len(events_of(api, task, SCALAR)) == 10
    assert len(events_of(api, task, PLOT)) == 1
    assert len(events_of(api, task, IMAGE)) == 1
    # ClearML writes every log event it is sent under a new id: a re-sent line is there twice
    assert [e["msg"] for e in events_of(api, task, LOG)] == ["hello", "hello"]


def test_same_key_overwrites_value_other_keys_stay(api: API, task: str) -> None:
    api.call("events.add_batch", [scalar(task, 1, 0.5), scalar(task, 2, 0.7), scalar(task, 1, 0.5, "val")])
    api.call("events.add_batch", [scalar(task, 1, 0.9)])
    series = api.call("events.scalar_metrics_iter_histogram", {"task": task})["loss"]
    assert series["train"] == {"name": "train", "x": [1, 2], "y": [0.9, 0.7]}
    assert series["val"]["y"] == [0.5]
    # two images of one iteration and series under different keys are both kept, as ClearML keys by `key` too
    api.call("events.add_batch", [image(task, 0, "http://f/a.png"), image(task, 0, "http://f/b.png")])
    assert len(events_of(api, task, IMAGE)) == 2


def test_partly_bad_batch_stores_the_valid_events_and_reports_the_rest(api: API, task: str) -> None:
    batch: list[Any] = [
        scalar(task, 0),
        {"type": "no_such_type", "task": task},
        {"type": SCALAR, "task": "0" * 32, "metric": "loss", "variant": "train", "iter": 1, "value": 1.0},
        {"metric": "loss", "task": task},
        json.dumps({**scalar(task, 2), "iter": "seven"}),  # refused by the request schema
        scalar(task, 3),
    ]
    answer = api.call("events.add_batch", batch)
    assert answer["added"] == 2
    assert answer["errors"] == 4
    info = answer["errors_info"]
    assert [n for problem, n in info.items() if "no_such_type" in problem] == [1]
    assert info[f"Invalid task id {'0' * 32}"] == 1
    assert info["Event must have a 'type' field"] == 1
    assert sum(info.values()) == 4
    assert api.call("events.scalar_metrics_iter_histogram", {"task": task})["loss"]["train"]["x"] == [0, 3]
    last = api.call("tasks.get_by_id", {"task": task})["task"]["last_metrics"]
    assert [v["value"] for m in last.values() for v in m.values()] == [3.0]


def test_batch_without_a_valid_event_is_events_not_added(api: API, task: str) -> None:
    response = api.raw("events.add_batch", [{"type": "bogus", "task": task}, {"type": SCALAR, "task": "nope"}])
    assert response.status_code == 400
    meta = response.json()["meta"]
    assert (meta["result_code"], meta["result_subcode"]) == (400, 131)
    assert "bogus" in meta["result_msg"]
    assert events_of(api, task, SCALAR) == []


def log_lines(api: API, task: str, n: int) -> None:
    lines = [{"type": LOG, "task": task, "msg": f"line {i}", "level": "info", "timestamp": 100 + i} for i in range(n)]
    api.call("events.add_batch", lines)


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"order": "asc"}, [25, 26, 27, 28, 29]),  # the SDK's get_reported_console_output(5)
        ({}, [29, 28, 27, 26, 25]),
        ({"order": "asc", "from_timestamp": 125}, [20, 21, 22, 23, 24]),
        ({"navigate_earlier": False}, [0, 1, 2, 3, 4]),
        ({"navigate_earlier": False, "order": "desc"}, [4, 3, 2, 1, 0]),
        ({"navigate_earlier": False, "from_timestamp": 127}, [28, 29]),
    ],
)
def test_task_log_pages_by_timestamp(api: API, task: str, request_fields: dict[str, Any], expected: list[int]) -> None:
    log_lines(api, task, 30)
    page = api.call("events.get_task_log", {"task": task, "batch_size": 5, **request_fields})
    assert [e["msg"] for e in page["events"]] == [f"line {i}" for i in expected]
    assert (page["returned"], page["total"]) == (len(expected), 30)


def test_task_log_page_keeps_every_line_of_its_last_timestamp(api: API, task: str) -> None:
    same = [{"type": LOG, "task": task, "msg": f"tie {i}", "level": "info", "timestamp": 50} for i in range(3)]
    api.call("events.add_batch", [{"type": LOG, "task": task, "msg": "late", "level": "info", "timestamp": 60}, *same])
    page = api.call("events.get_task_log", {"task": task, "batch_size": 2, "order": "asc"})
    assert sorted(e["msg"] for e in page["events"]) == ["late", "tie 0", "tie 1", "tie 2"]
    assert page["events"][-1]["msg"] == "late"


def debug_page(api: API, task: str, scroll: str | None = None, **fields: Any) -> tuple[list[int], str]:
    body = {"metrics": [{"task": task, "metric": "m", "variants": ["v"]}], "scroll_id": scroll, **fields}
    answer = api.call("events.debug_images", body)
    (metric,) = answer["metrics"]
    assert metric["task"] == task
    return [it["iter"] for it in metric["iterations"]], str(answer["scroll_id"])


def test_debug_images_page_by_iters_and_end(api: API, task: str) -> None:
    api.call("events.add_batch", [image(task, i, f"http://files/m/v_{i}.png") for i in range(5)])
    pages = []
    scroll = None
    for _ in range(5):
        iters, scroll = debug_page(api, task, scroll, iters=2)
        pages.append(iters)
    assert pages == [[4, 3], [2, 1], [0], [], []]
    first, scroll = debug_page(api, task, iters=3)
    assert first == [4, 3, 2]
    assert debug_page(api, task, scroll, iters=3, navigate_earlier=False)[0] == []
    earlier, scroll = debug_page(api, task, scroll, iters=3)
    assert earlier == [1, 0]
    assert debug_page(api, task, scroll, iters=1, navigate_earlier=False)[0] == [2]


def test_debug_images_default_one_iteration_one_image_per_series(api: API, task: str) -> None:
    api.call("events.add_batch", [image(task, 0, "http://f/a.png"), image(task, 0, "http://f/b.png"),
                                  image(task, 0, "http://f/w.png", variant="w")])  # fmt: skip
    answer = api.call("events.debug_images", {"metrics": [{"task": task}]})
    (iteration,) = answer["metrics"][0]["iterations"]
    assert [(e["variant"], e["url"]) for e in iteration["events"]] == [("v", "http://f/b.png"), ("w", "http://f/w.png")]
    legacy = api.call("events.debug_images", {"task": task})  # the pre-2.7 request form
    assert legacy["metrics"][0]["iterations"] == answer["metrics"][0]["iterations"]


def test_debug_images_leave_out_images_whose_recycled_file_was_overwritten(api: API, task: str) -> None:
    # file_history_size 2: the SDK writes v_0.png and v_1.png in turn, so only the last two are still true
    api.call("events.add_batch", [image(task, i, f"http://files/m/v_{i % 2}.png") for i in range(5)])
    assert debug_page(api, task, iters=10)[0] == [4, 3]


def test_scalar_histogram_samples_as_clearml(api: API, task: str) -> None:
    points = [scalar(task, i, float(i)) for i in range(1000)]
    summary = {"type": SCALAR, "task": task, "metric": "Summary", "variant": "acc", "iter": -(2**31), "value": 1.0}
    api.call("events.add_batch", [*points, summary])
    full = api.call("events.scalar_metrics_iter_histogram", {"task": task})
    assert "Summary" not in full  # single values are not a series
    assert full["loss"]["train"]["x"] == list(range(1000))  # fewer points than the default 2000
    sampled = api.call("events.scalar_metrics_iter_histogram", {"task": task, "samples": 100})["loss"]["train"]
    assert sampled["x"] == list(range(0, 1000, 10))
    assert sampled["y"] == [i + 4.5 for i in range(0, 1000, 10)]  # the mean of each bucket of 10
    by_time = api.call("events.scalar_metrics_iter_histogram", {"task": task, "samples": 300, "key": "timestamp"})
    assert by_time["loss"]["train"]["x"][:3] == [1000, 1004, 1008]  # timestamps 1000..1999, buckets of 4 ms
    bad = api.raw("events.scalar_metrics_iter_histogram", {"task": task, "samples": 6001})
    assert bad.status_code == 400


def test_old_data_dir_is_migrated_keeping_the_last_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, type TEXT NOT NULL,
        metric TEXT NOT NULL DEFAULT '', variant TEXT NOT NULL DEFAULT '', iter INTEGER NOT NULL DEFAULT 0,
        timestamp INTEGER NOT NULL DEFAULT 0, value REAL, body TEXT NOT NULL);"""
    )
    rows: list[tuple[Any, ...]] = [
        ("t", SCALAR, "loss", "train", 1, 0, v, json.dumps({"value": v})) for v in (0.1, 0.2)
    ]
    rows += [("t", LOG, "", "", 0, 0, None, json.dumps({"msg": "x"}))] * 2
    rows += [("t", IMAGE, "m", "v", 0, 0, None, json.dumps({"key": k})) for k in ("a", "b", "a")]
    conn.executemany(
        "INSERT INTO events (task, type, metric, variant, iter, timestamp, value, body) VALUES (?,?,?,?,?,?,?,?)", rows
    )
    conn.commit()
    conn.close()

    for _ in range(2):  # migrating twice changes nothing
        db = Database(path)
        store = Store(db)
        assert [e["value"] for e in store.events.bodies("t", SCALAR)] == [0.2]
        assert len(store.events.bodies("t", LOG)) == 2
        assert sorted(e["key"] for e in store.events.bodies("t", IMAGE)) == ["a", "b"]
        db.close()
