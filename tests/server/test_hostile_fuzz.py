"""Schema-driven fuzzing of every implemented endpoint, in-process (Starlette's TestClient).

Requests are generated from the installed SDK's own request schemas (the contract the server
honours): well-formed ones, and ones with a field replaced by a hostile value (wrong types,
lone surrogates, non-finite or 64-bit-overflowing numbers, deep nesting, catastrophic regular
expressions), with known ids mixed in so handlers get past their lookups. Every request must be
answered 2xx or 4xx with a ClearML envelope within a second (a hang detector, not a speed
target), and be followed by canary reads that still answer 200: nothing stored may break a
listing. A bounded, derandomised number of examples per endpoint keeps the tier cheap in CI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from hpo.server import ServerConfig, create_app
from hpo.server._schemas import request_schemas
from hpo.server.routes import handlers

pytestmark = pytest.mark.xdist_group("hostile-fuzz")  # its module-scoped fixtures are built once, on one worker

EXAMPLES_PER_ENDPOINT = 8
ENDPOINTS = sorted(handlers())
ID_FIELDS = ("task", "tasks", "id", "ids", "project", "projects", "model", "models", "queue", "queues", "worker")


class _Raw:
    """A JSON literal json.dumps cannot write (``1e999`` as text, a huge int)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"x": [value]}
    return value


HOSTILE: list[Any] = [
    {},
    [[[]]],
    [{}],
    [{"a": 1}],
    5,
    -1,
    True,
    "",
    "\ud800",
    ["\udfff"],
    float("nan"),
    float("inf"),
    _Raw("1e999"),
    _Raw("9223372036854775808"),
    "x" * 20_000,
    "^(a+)+$",
    "a{4294967296}",
    "(" * 5000,
    _deep(40),
]


def _dumps(body: dict[str, Any]) -> bytes:
    raws: dict[str, str] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, _Raw):
            key = f"__raw{len(raws)}__"
            raws[key] = value.text
            return key
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value

    text = json.dumps(encode(body))  # NaN/Infinity and lone surrogates are written as they come
    for key, literal in raws.items():
        text = text.replace(f'"{key}"', literal)
    return text.encode()


def _strategy(schema: Any, definitions: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that fit ``schema`` (the subset of JSON schema the SDK's definitions use)."""
    if not isinstance(schema, dict) or depth > 4:
        return st.none()
    if "$ref" in schema:
        return _strategy(definitions.get(str(schema["$ref"]).rsplit("/", 1)[-1], {}), definitions, depth + 1)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([_strategy(sub, definitions, depth + 1) for sub in schema[key]])
    types = schema.get("type", "object" if "properties" in schema else None)
    names = [types] if isinstance(types, str) else list(types or ["string", "integer", "null"])
    return st.one_of([_typed(name, schema, definitions, depth) for name in names])


def _typed(name: str, schema: dict[str, Any], definitions: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    low = schema.get("minimum")
    if name == "string":
        return st.text(max_size=12)
    if name == "integer":
        return st.integers(min_value=low if low is not None else -(2**40), max_value=2**40)
    if name == "number":
        return st.floats(min_value=low, allow_nan=False, allow_infinity=False, width=32)
    if name == "boolean":
        return st.booleans()
    if name == "array":
        return st.lists(_strategy(schema.get("items", {"type": "string"}), definitions, depth + 1), max_size=3)
    if name == "object":
        props = schema.get("properties") or {}
        optional = {k: _strategy(v, definitions, depth + 1) for k, v in props.items()}
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict):
            return st.dictionaries(st.text(max_size=6), _strategy(extra, definitions, depth + 1), max_size=2)
        return st.fixed_dictionaries({}, optional=optional)
    return st.none()


def _requests(endpoint: str, known_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    schema = request_schemas().get(endpoint, {"properties": {f: {"type": "string"} for f in ("task", "name")}})
    definitions = schema.get("definitions") or {}
    valid = _strategy({**schema, "type": "object"}, definitions).filter(lambda v: isinstance(v, dict))
    fields = sorted((schema.get("properties") or {}).keys()) or ["task", "name"]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        body = dict(draw(valid))
        for field in ID_FIELDS:  # reach past the id lookups with ids that exist
            if field in fields and draw(st.booleans()):
                known = draw(st.sampled_from(known_ids))
                body[field] = [known] if field.endswith("s") else known
        if draw(st.booleans()):
            body[draw(st.sampled_from(fields))] = draw(st.sampled_from(HOSTILE))
        return body

    return build()


class Server:
    """An in-process server with a logged-in client and documents to aim at."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        creds = client.app.state.server.credentials  # type: ignore[attr-defined]
        login = client.post("/auth.login", auth=(creds.access_key, creds.secret_key))
        client.headers["Authorization"] = f"Bearer {login.json()['data']['token']}"
        # canaries are read after every request; victims are what fuzzed requests may change
        self.canary_task = self.call("tasks.create", {"name": "canary", "type": "training"})["id"]
        self.canary_model = self.call("models.create", {"name": "canary", "uri": "file:///m"})["id"]

    def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.request("GET", f"/v2.23/{endpoint}", json=body)
        assert response.status_code == 200, f"{endpoint}: {response.text[:300]}"
        return dict(response.json()["data"])

    def victims(self) -> list[str]:
        project = self.call("projects.create", {"name": f"victim-{time.monotonic_ns()}", "description": ""})["id"]
        task = self.call("tasks.create", {"name": "victim", "type": "training", "project": project})["id"]
        model = self.call("models.create", {"name": "victim", "uri": "file:///v", "task": task})["id"]
        queue = self.call("queues.create", {"name": f"victim-{time.monotonic_ns()}"})["id"]
        return [task, project, model, queue, "vm:victim"]

    def canaries(self) -> None:
        for endpoint, body in [
            ("tasks.get_all", {}),
            ("tasks.get_by_id", {"task": self.canary_task}),
            ("models.get_all", {}),
            ("models.get_by_id", {"model": self.canary_model}),
            ("projects.get_all", {}),
            ("queues.get_all", {}),
            ("workers.get_all", {}),
            ("events.get_task_log", {"task": self.canary_task}),
        ]:
            self.call(endpoint, body)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    request_schemas()  # read once up front, so no request pays for it
    app = create_app(ServerConfig(data_dir=Path(tmp_path_factory.mktemp("fuzz")) / "data"))
    with TestClient(app) as client:
        yield Server(client)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_answers_4xx_or_2xx_and_stays_readable(server: Server, endpoint: str) -> None:
    known = server.victims()

    @settings(
        max_examples=EXAMPLES_PER_ENDPOINT,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(body=_requests(endpoint, known))
    def check(body: dict[str, Any]) -> None:
        content = _dumps(body)
        started = time.monotonic()
        response = server.client.request(
            "GET", f"/v2.23/{endpoint}", content=content, headers={"Content-Type": "application/json"}
        )
        took = time.monotonic() - started
        assert response.status_code < 500, f"{endpoint} {content[:300]!r} -> {response.text[:300]}"
        meta = response.json()["meta"]
        assert meta["result_code"] == response.status_code and meta["result_msg"]
        assert took < 15.0, f"{endpoint} took {took:.2f} s on {content[:200]!r}"  # a hang, not a speed target
        server.canaries()

    check()
