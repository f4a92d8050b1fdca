"""The SDK's request check with one validator per schema (hpo._sdk_speed): same verdicts, schema checked once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from clearml.backend_api.services import queues, tasks
from clearml.backend_api.session import datamodel

from hpo import _sdk_speed


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The check installed for one test; the SDK's own ``DataModel.validate`` is back afterwards."""
    monkeypatch.setattr(datamodel.DataModel, "validate", datamodel.DataModel.validate)
    monkeypatch.setattr(_sdk_speed, "_installed", False)
    monkeypatch.setattr(_sdk_speed, "_validators", {})
    assert _sdk_speed.install()
    yield


def sdk_verdict(request: Any) -> str | None:
    """What the SDK's own check (jsonschema.validate with its validator class) says of ``request``."""
    try:
        jsonschema.validate(request.to_dict(), request._schema, cls=datamodel._CustomValidator)
    except jsonschema.ValidationError as err:
        return err.message
    return None


def bad_tags() -> Any:
    request = tasks.EditRequest(task="t1", force=True)
    request._property_tags = 5  # what a caller bypassing the setter's type check could send
    return request


def bad_queue() -> Any:
    request = queues.GetNextTaskRequest(queue="q1")
    request._property_queue = ["q1"]
    return request


@pytest.mark.parametrize(
    "make",
    [
        lambda: tasks.EditRequest(task="t1", force=True, tags=["a", "b"]),
        lambda: tasks.GetAllRequest(id=["a", "b"], only_fields=["status", "last_metrics"]),
        bad_tags,
        bad_queue,
    ],
    ids=["edit", "get_all", "edit-bad-tags", "get_next_task-bad-queue"],
)
def test_sdk_speed_validate_same_verdict_as_sdk(installed: None, make: Any) -> None:
    request = make()
    expected = sdk_verdict(request)
    if expected is None:
        request.validate()  # accepted, as by the SDK
        return
    with pytest.raises(jsonschema.ValidationError) as raised:
        request.validate()
    assert raised.value.message == expected


def test_sdk_speed_schema_checked_once(installed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []
    original = datamodel._CustomValidator.check_schema

    def counting(schema: Any, *args: Any, **kwargs: Any) -> None:
        checked.append(id(schema))
        original(schema, *args, **kwargs)

    monkeypatch.setattr(datamodel._CustomValidator, "check_schema", staticmethod(counting))
    for number in range(5):
        tasks.EditRequest(task=f"t{number}", force=True).validate()
        tasks.GetAllRequest(id=[f"t{number}"]).validate()
    assert len(checked) == 2  # one per schema, not one per request
    with pytest.raises(jsonschema.ValidationError):
        bad_tags().validate()  # a cached validator still checks every request in full


def test_sdk_speed_install_idempotent(installed: None) -> None:
    patched = datamodel.DataModel.validate
    assert _sdk_speed.install()
    assert datamodel.DataModel.validate is patched


def test_sdk_speed_unknown_layout_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    original = datamodel.DataModel.validate
    monkeypatch.setattr(_sdk_speed, "_installed", False)
    monkeypatch.setattr(datamodel, "_CustomValidator", None)  # as with jsonschema < 3
    assert not _sdk_speed.install()
    assert datamodel.DataModel.validate is original
