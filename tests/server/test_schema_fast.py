"""The request checker's fast path accepts and refuses exactly what the full schema walk does.

``hpo.server._schemas.checker`` tables, per endpoint (per event type for ``events.add_batch``),
the classes each bare-typed field may have and accepts a body whose fields all fit without walking
the schema; everything else goes to the full check. These compare the two on every endpoint the
SDK defines, over valid bodies and bodies with each field swapped for values of every JSON kind,
including the coercions the full check makes in place.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from hpo.server._schemas import _Compiler, checker, request_schemas

# One value of every kind a parsed JSON body can hold, and the edge cases of the full check.
POOL: list[Any] = [
    None, True, False, 0, 7, -(2**63), 2**63, 2**70, 1.5, 2.0**64, -0.0, "", "x", "INFO", "info", "queued",
    "training_stats_scalar", "TRAINING_STATS_SCALAR", [], ["a"], [None], [1, "a"], {}, {"a": 1}, {"a": [1]},
]  # fmt: skip

SDK_EVENTS: list[dict[str, Any]] = [
    {"timestamp": 1700000000000, "type": "training_stats_scalar", "task": "t1", "iter": 3, "metric": "loss",
     "variant": "train", "value": 0.25},
    {"timestamp": 1700000000000.5, "type": "training_stats_scalar", "task": "t1", "iter": 3, "metric": "m",
     "variant": "v", "value": 2, "model_event": False},
    {"timestamp": 1, "type": "log", "task": "t1", "level": "info", "worker": "w", "msg": "hello"},
    {"type": "plot", "task": "t1", "iter": 0, "metric": "m", "variant": "v", "plot_str": "{}"},
    {"type": "training_debug_image", "task": "t1", "iter": 0, "metric": "m", "variant": "v", "key": "k", "url": "u"},
    {"type": "training_stats_vector", "task": "t1", "iter": 0, "metric": "m", "variant": "v", "values": [1.0, 2]},
]  # fmt: skip


def _full(endpoint: str) -> Any:
    schema = request_schemas()[endpoint]
    return _Compiler(schema.get("definitions") or {}).compile(schema)


def _definitions(endpoint: str) -> dict[str, Any]:
    return dict(request_schemas()[endpoint].get("definitions") or {})


def _same(endpoint: str, body: Any) -> None:
    fast_body, full_body = copy.deepcopy(body), copy.deepcopy(body)
    check = checker(endpoint)
    assert check is not None
    assert check(fast_body, "") == _full(endpoint)(full_body, ""), body
    assert fast_body == full_body, body  # the same coercions, in place


def _variants(base: dict[str, Any], fields: list[str], rng: random.Random) -> list[dict[str, Any]]:
    out = [base]
    for name in fields:
        out.extend({**base, name: value} for value in POOL)
    out.extend({k: v for k, v in base.items() if k != name} for name in base)
    for _ in range(200):  # several fields at once
        out.append({**base, **{name: rng.choice(POOL) for name in rng.sample(fields, min(3, len(fields)))}})
    return out


@pytest.mark.parametrize("event", SDK_EVENTS, ids=lambda e: str(e["type"]))
def test_event_lines_checked_alike_on_both_paths(event: dict[str, Any]) -> None:
    rng = random.Random(str(event))
    listed = {name for sub in _definitions("events.add_batch").values() for name in sub.get("properties") or {}}
    fields = sorted({*event, *listed, "model_event", "allow_locked", "model", "unlisted"})
    for body in _variants(event, fields, rng):
        _same("events.add_batch", body)


def test_a_scalar_line_the_fast_path_takes_is_refused_when_a_field_is_wrong() -> None:
    check = checker("events.add_batch")
    assert check is not None
    good = dict(SDK_EVENTS[0])
    assert check(dict(good), "") is None
    assert "'iter' must be integer" in (check({**good, "iter": "3"}, "") or "")
    assert "'value' must be number" in (check({**good, "value": True}, "") or "")
    assert "'type' must be one of" in (check({**good, "type": "nope"}, "") or "")


def test_every_endpoint_checked_alike_on_both_paths() -> None:
    rng = random.Random(18)
    for endpoint in sorted(request_schemas()):
        props = sorted(request_schemas()[endpoint].get("properties") or {})[:12]
        for body in _variants({}, props, rng)[:150]:
            _same(endpoint, body)
        for value in POOL:
            _same(endpoint, value)  # a body that is not an object at all
