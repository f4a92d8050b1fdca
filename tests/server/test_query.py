"""ClearML's ``*.get_all`` query semantics: ordering, date conditions, single values for lists.

Pure logic is checked on :mod:`hpo.server._query` directly; the wire behaviour in-process over
the whole app (schema check, coercion, handler), as a client sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from hpo.server._dates import date_test
from hpo.server._errors import APIError
from hpo.server._query import order
from hpo.server._schemas import check_request
from tests.support.api import InProcess, in_process_app


@pytest.fixture
def api(tmp_path: Path) -> Iterator[InProcess]:
    with in_process_app(tmp_path / "server") as (client, token):
        yield InProcess(client, token)


def _lr(value: str | None) -> dict[str, Any]:
    return {"id": str(value), "hyperparams": {"Args": {"lr": {"value": value}}} if value is not None else {}}


@pytest.mark.parametrize(
    ("values", "key", "expected"),
    [
        (
            ["11", "2", None, "0.5", "abc10", "abc9"],
            "hyperparams.Args.lr.value",
            ["0.5", "2", "11", "abc9", "abc10", None],
        ),
        (["11", "2", None, "0.5"], "-hyperparams.Args.lr.value", ["11", "2", "0.5", None]),
    ],
)
def test_order_compares_parameter_numbers_as_numbers_missing_last(
    values: list[str | None], key: str, expected: list[str | None]
) -> None:
    ranked = order([_lr(v) for v in values], [key])
    assert [d["id"] for d in ranked] == [str(v) for v in expected]


@pytest.mark.parametrize("key", ["last_metrics.t.s.value", "-last_metrics.t.s.value"])
def test_order_puts_tasks_without_the_metric_last_in_both_directions(key: str) -> None:
    docs: list[dict[str, Any]] = [
        {"id": "none"},
        {"id": "b", "last_metrics": {"t": {"s": {"value": 0.2}}}},
        {"id": "empty", "last_metrics": {}},
    ]
    docs.append({"id": "a", "last_metrics": {"t": {"s": {"value": 0.1}}}})
    ids = [d["id"] for d in order(docs, [key])]
    assert ids[:2] == (["a", "b"] if not key.startswith("-") else ["b", "a"])
    assert set(ids[2:]) == {"none", "empty"}


def test_order_missing_values_of_a_later_key_sort_lowest() -> None:
    docs = [{"id": "1", "g": 1, "x": None}, {"id": "2", "g": 1, "x": 5}, {"id": "3", "g": 0, "x": 1}]
    assert [d["id"] for d in order(docs, ["g", "x"])] == ["3", "1", "2"]


NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


@pytest.mark.parametrize(
    ("spec", "matches"),
    [
        (">=2026-12-03T12:00:00", [0, 1]),
        ([">2026-12-03 12:00:00"], [1]),  # Monitor's str(datetime.utcfromtimestamp(...)): naive, with a space
        (["<2026-12-03T13:00:00+01:00"], [-1]),  # the same instant as 12:00 UTC: strictly before it
        ([">=2026-12-03T11:00:00Z", "<=2026-12-03T12:00:00Z"], [-1, 0]),
        (["2026-12-03T11:30:00", None], [0, 1]),  # a [from, to] pair with an open end
        ("2026-12-03T12:00:00+00:00", [0]),  # no operator: the same instant
    ],
)
def test_date_conditions(spec: Any, matches: list[int]) -> None:
    test = date_test("last_update", spec)
    hits = [hours for hours in (-1, 0, 1) if test(_iso(NOW + timedelta(hours=hours)))]
    assert hits == matches
    assert not test(None)  # no open start: a missing date never matches


def test_open_start_range_matches_a_missing_date_as_clearml() -> None:
    assert date_test("started", [None, "2026-12-03T12:00:00"])(None)
    assert not date_test("started", [">=2026-01-01"])(None)


@pytest.mark.parametrize("spec", [">=yesterday", ["<2026-13-45"], [">=2026-01-01", 5], [None, None]])
def test_unreadable_date_is_400(spec: Any) -> None:
    with pytest.raises(APIError) as err:
        date_test("last_update", spec)
    assert err.value.code == 400 and "last_update" in err.value.msg


def test_single_values_are_coerced_to_lists_and_parent_takes_a_list() -> None:
    body: dict[str, Any] = {"id": "a", "status": "queued", "project": "p", "parent": ["x", "y"], "name": "n"}
    assert check_request("tasks.get_all", body) is None
    assert body == {"id": ["a"], "status": ["queued"], "project": ["p"], "parent": ["x", "y"], "name": "n"}
    wrong: dict[str, Any] = {"id": 5}
    assert check_request("tasks.get_all", wrong) == "'id' must be array, got integer 5"  # not an id: not coerced


def test_get_all_filters_by_date_conditions_over_http(api: InProcess) -> None:
    early = api.call("tasks.create", {"name": "early", "type": "training"})["id"]
    cut = api.call("tasks.get_by_id", {"task": early})["task"]["last_update"]
    late = api.call("tasks.create", {"name": "late", "type": "training"})["id"]
    api.call("tasks.edit", {"task": late, "comment": "touched"})
    after = api.call("tasks.get_all", {"last_update": [f">{cut}"], "only_fields": ["id"]})["tasks"]
    assert [t["id"] for t in after] == [late]
    both = api.call("tasks.get_all", {"last_update": f">={cut}", "only_fields": ["id"]})["tasks"]
    assert {t["id"] for t in both} == {early, late}
    either = {"fields": ["last_update", "last_change"], "datetime": [f">{cut}"]}  # TriggerScheduler's query
    assert [t["id"] for t in api.call("tasks.get_all", {"_or_": either})["tasks"]] == [late]
    bad = api.raw("tasks.get_all", {"status_changed": [">=not a date"]})
    assert bad.status_code == 400 and "status_changed" in bad.json()["meta"]["result_msg"]


def test_get_all_takes_one_value_for_a_list_and_a_list_for_parent(api: InProcess) -> None:
    parents = [api.call("tasks.create", {"name": f"p{i}", "type": "training"})["id"] for i in range(3)]
    kids = [api.call("tasks.clone", {"task": p, "new_task_name": "kid"})["id"] for p in parents]
    single = {"id": kids[0], "status": "created", "order_by": "name", "only_fields": ["name"]}
    one = api.call("tasks.get_all", single)["tasks"]
    assert one == [{"id": kids[0], "name": "kid"}]
    two = api.call("tasks.get_all", {"parent": parents[:2], "only_fields": ["id"]})["tasks"]
    assert {t["id"] for t in two} == set(kids[:2])


def test_get_all_orders_by_hyper_parameter_numbers_and_metrics_missing_last(api: InProcess) -> None:
    ids = {}
    for lr in ("11", "2", "0.5"):
        ids[lr] = api.call("tasks.create", {"name": f"lr{lr}", "type": "training"})["id"]
        param = {"section": "Args", "name": "lr", "value": lr}
        api.call("tasks.edit_hyper_params", {"task": ids[lr], "hyperparams": [param]})
    api.call("tasks.create", {"name": "bare", "type": "training"})
    by_lr = api.call("tasks.get_all", {"order_by": ["hyperparams.Args.lr.value"], "only_fields": ["name"]})["tasks"]
    assert [t["name"] for t in by_lr] == ["lr0.5", "lr2", "lr11", "bare"]
    event = {"type": "training_stats_scalar", "metric": "val", "variant": "loss", "iter": 0}
    api.call("events.add", {**event, "task": ids["2"], "value": 0.3})
    api.call("events.add", {**event, "task": ids["11"], "value": 0.1})
    metric = api.call("tasks.get_by_id", {"task": ids["2"]})["task"]["last_metrics"]
    (title,) = metric
    (series,) = metric[title]
    key = f"last_metrics.{title}.{series}.value"
    ranked = api.call("tasks.get_all", {"order_by": [key], "only_fields": ["name"]})["tasks"]
    assert [t["name"] for t in ranked][:2] == ["lr11", "lr2"]
    assert {t["name"] for t in ranked[2:]} == {"lr0.5", "bare"}
    paged = api.call("tasks.get_all", {"order_by": [key], "page": 0, "page_size": 1, "only_fields": ["id"]})
    assert paged["tasks"] == [{"id": ids["11"]}]
