"""Request schemas of ClearML's API, read from the installed SDK, and a checker built from them.

The SDK carries the API definitions it speaks (``clearml/backend_api/services/v2_23/*.py``): one
``*Request`` class per endpoint with a JSON-schema ``_schema``. They are read with :mod:`ast`
(importing them would import most of the SDK) once per process, and each endpoint's schema is
compiled into a checker that the transport runs before any handler sees the request. A body
whose every field has a bare type it fits (a scalar event's, say) is accepted from a table of
classes compiled with it, without walking the schema (see ``_fast_tables``).

Leniency, chosen so that nothing the SDK or the agent sends is refused:

- Fields a schema does not list are ignored (the SDK adds ``"method": "get"``; newer clients send
  newer fields), and ``required`` is left to the handlers, which name the missing field.
- ``null`` is accepted for every field, as "not given" (the SDK sends ``null`` for unset fields).
- ``format`` and ``additionalProperties: false`` are not enforced.
- An ``integer`` may come as a JSON float within 64 bits (the agent reports ``disk_free_home:
  60.5``), and string enums match without case (the agent logs ``"level": "INFO"``).
- A single value where a list is declared (``"id": "abc"``, ``"status": "queued"``) is coerced
  to a one-item list in the body itself when it fits as an item (not ``only_fields``, which
  ClearML does not coerce either), and a ``*.get_all`` takes a list for ``parent`` as for any
  other id filter: ClearML Server accepts both.

What is enforced is the type of every listed field, of list items and of map values, ``enum``,
``const``, ``minimum`` and ``maximum``: a handler can trust that ``only_fields`` is a list of
strings and an event's ``iter`` is an integer.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

API_PACKAGE = "clearml.backend_api.services.v2_23"
SERVICES = ("auth", "events", "models", "projects", "queues", "tasks", "workers")

Schema = dict[str, Any]
# List fields a single value is not coerced for (ClearML would read a string as its characters).
NOT_COERCED = frozenset({"only_fields"})
# A checker returns None when the value fits, else a message naming the path and the problem.
Checker = Callable[[Any, str], str | None]

_INT64 = 2**63


def _integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and -_INT64 <= value < _INT64)


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": _integer,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


# The classes that always pass each type's test (``integer`` also takes a float within 64 bits).
_CLASSES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
    "object": (dict,), "null": (type(None),),
}  # fmt: skip


def _kind(value: Any) -> str:
    if isinstance(value, float):
        return "number"
    for name in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if _JSON_TYPES[name](value):
            return name
    return type(value).__name__


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _class_schema(node: ast.ClassDef) -> tuple[str, Schema] | None:
    found: dict[str, Any] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            if name in ("_service", "_action", "_schema", "_batched_request_cls"):
                found[name] = stmt.value if name == "_batched_request_cls" else ast.literal_eval(stmt.value)
    if "_service" not in found or "_action" not in found:
        return None
    endpoint = f"{found['_service']}.{found['_action']}"
    if "_schema" in found:
        return endpoint, found["_schema"]
    batched = found.get("_batched_request_cls")
    if isinstance(batched, ast.Name):  # a batch request: each line is one of the named request
        return endpoint, {"$batch_of": batched.id}
    return None


_loaded: dict[str, Schema] | None = None
_loading = threading.Lock()

# Fields ClearML Server takes (and the handlers read) that the SDK's schemas do not list.
_METRIC_VARIANTS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"metric": {"type": "string"}, "variants": {"type": "array", "items": {"type": "string"}}},
    },
}
_SERVER_FIELDS: dict[str, Schema] = {
    endpoint: {"metrics": _METRIC_VARIANTS}
    for endpoint in (
        "events.get_task_events",
        "events.get_task_log",
        "events.get_task_single_value_metrics",
        "events.multi_task_scalar_metrics_iter_histogram",
    )
}


def _with_server_fields(schemas: dict[str, Schema]) -> dict[str, Schema]:
    for endpoint, fields in _SERVER_FIELDS.items():
        if endpoint in schemas:
            props = schemas[endpoint].setdefault("properties", {})
            for name, sub in fields.items():
                props.setdefault(name, sub)
    return schemas


def schemas_ready() -> bool:
    """Whether :func:`request_schemas` answers at once (the transport checks inline only then)."""
    return _loaded is not None


def request_schemas() -> dict[str, Schema]:
    """Every endpoint's request schema, by endpoint name (``tasks.get_all``).

    Read once per process (a fraction of a second); callers that come while it is being read
    wait for that read. A batch endpoint (``events.add_batch``) maps to the schema of one line.
    """
    global _loaded
    with _loading:
        if _loaded is None:
            _loaded = _with_server_fields(_read_schemas())
    return _loaded


def _read_schemas() -> dict[str, Schema]:
    spec = importlib.util.find_spec(API_PACKAGE.split(".")[0])
    if spec is None or spec.origin is None:  # pragma: no cover - clearml is a dependency
        log.warning("the clearml SDK is not installed: requests are not checked against its schemas")
        return {}
    root = Path(spec.origin).parent.joinpath(*API_PACKAGE.split(".")[1:])
    schemas: dict[str, Schema] = {}
    for service in SERVICES:
        tree = ast.parse((root / f"{service}.py").read_text())
        by_class: dict[str, Schema] = {}
        batches: dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Request"):
                found = _class_schema(node)
                if found is None:
                    continue
                endpoint, schema = found
                if "$batch_of" in schema:
                    batches[endpoint] = schema["$batch_of"]
                else:
                    schemas[endpoint] = by_class[node.name] = schema
        for endpoint, cls in batches.items():
            if cls in by_class:
                schemas[endpoint] = by_class[cls]
    for endpoint in list(schemas):
        # the web UI's ``*.get_all_ex`` takes what ``get_all`` takes (and more); the SDK has no schema
        if endpoint.endswith(".get_all"):
            _parent_as_list(schemas[endpoint])
            schemas.setdefault(endpoint + "_ex", schemas[endpoint])
    return schemas


def _parent_as_list(schema: Schema) -> None:
    """Let a get_all's ``parent`` filter be one id or a list of ids, as ClearML's query does."""
    parent = (schema.get("properties") or {}).get("parent")
    if isinstance(parent, dict) and parent.get("type") in ("string", ["string", "null"]):
        schema["properties"]["parent"] = {"type": ["array", "string", "null"], "items": {"type": "string"}}


class _Compiler:
    """Turns one schema (with its ``definitions``) into nested checker closures."""

    def __init__(self, definitions: dict[str, Schema]) -> None:
        self.definitions = definitions
        self.refs: dict[str, Checker] = {}

    def compile(self, schema: Any) -> Checker:
        if not isinstance(schema, dict):
            return _accept
        if "$ref" in schema:
            return self._ref(str(schema["$ref"]))
        checks: list[Checker] = []
        if "type" in schema:
            checks.append(_type_check(schema["type"]))
        if "const" in schema:
            checks.append(_enum_check([schema["const"]]))
        if "enum" in schema:
            checks.append(_enum_check(list(schema["enum"]) + [None]))
        if "minimum" in schema or "maximum" in schema:
            checks.append(_range_check(schema.get("minimum"), schema.get("maximum")))
        if "properties" in schema or isinstance(schema.get("additionalProperties"), dict):
            props = {name: self.compile(sub) for name, sub in (schema.get("properties") or {}).items()}
            lists = {
                name: self._list_item(sub)
                for name, sub in (schema.get("properties") or {}).items()
                if name not in NOT_COERCED and self._only_list(sub)
            }
            extra = schema.get("additionalProperties")
            checks.append(_object_check(props, self.compile(extra) if isinstance(extra, dict) else None, lists))
        if isinstance(schema.get("items"), dict):
            strings = (self.resolve(schema["items"]) or {}).get("type") == "string"  # ids, names, fields
            checks.append(_items_check(self.compile(schema["items"]), null_ok=not strings))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                checks.append(_any_check([self.compile(sub) for sub in schema[key]], schema[key], self))
        for sub in schema.get("allOf") or ():
            checks.append(self.compile(sub))
        return _all_check(checks)

    def _ref(self, ref: str) -> Checker:
        name = ref.rsplit("/", 1)[-1]
        if name not in self.refs:
            holder: list[Checker] = []
            self.refs[name] = lambda value, path: holder[0](value, path)  # ties recursive definitions
            holder.append(self.compile(self.definitions.get(name, {})))
        return self.refs[name]

    def _only_list(self, schema: Any) -> bool:
        """Whether a property takes a list and no other non-null type (a single value is coerced)."""
        kinds = (self.resolve(schema) or {}).get("type")
        names = {kinds} if isinstance(kinds, str) else set(kinds or ())
        return "array" in names and names <= {"array", "null"}

    def _list_item(self, schema: Any) -> Checker:
        items = (self.resolve(schema) or {}).get("items")
        return self.compile(items) if isinstance(items, dict) else _accept

    def resolve(self, schema: Any) -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = self.definitions.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        return schema


def _accept(value: Any, path: str) -> str | None:
    return None


def _all_check(checks: list[Checker]) -> Checker:
    if not checks:
        return _accept
    if len(checks) == 1:
        return checks[0]

    def check(value: Any, path: str) -> str | None:
        for each in checks:
            problem = each(value, path)
            if problem:
                return problem
        return None

    return check


def _type_check(spec: str | list[str]) -> Checker:
    names = [spec] if isinstance(spec, str) else list(spec)
    tests = [_JSON_TYPES[n] for n in names if n in _JSON_TYPES] + [_JSON_TYPES["null"]]
    wanted = " or ".join(n for n in names if n != "null") or "null"
    # the classes a parsed JSON value of these types has, checked first: most values are one of them
    exact = frozenset(cls for n in names for cls in _CLASSES.get(n, ())) | {type(None)}

    def check(value: Any, path: str) -> str | None:
        if value.__class__ in exact or any(test(value) for test in tests):
            return None
        return f"'{path}' must be {wanted}, got {_kind(value)} {_preview(value)}"

    return check


def _enum_check(allowed: list[Any]) -> Checker:
    folded = {a.lower() for a in allowed if isinstance(a, str)}
    others = [a for a in allowed if not isinstance(a, str)]

    def check(value: Any, path: str) -> str | None:
        if value is None or (isinstance(value, str) and value.lower() in folded):
            return None
        if not isinstance(value, str) and any(value == a and type(value) is type(a) for a in others):
            return None
        shown = ", ".join(repr(a) for a in allowed if a is not None)
        return f"'{path}' must be one of {shown}, got {_preview(value)}"

    return check


def _range_check(low: float | None, high: float | None) -> Checker:
    def check(value: Any, path: str) -> str | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        if low is not None and value < low:
            return f"'{path}' must be at least {low}, got {value}"
        if high is not None and value > high:
            return f"'{path}' must be at most {high}, got {value}"
        return None

    return check


def _object_check(props: dict[str, Checker], extra: Checker | None, lists: dict[str, Checker]) -> Checker:
    def check(value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return None  # the type check (when the schema has one) has spoken
        prefix = f"{path}." if path else ""
        for key in lists.keys() & value.keys() if lists else ():
            one = value[key]
            if isinstance(one, str | int | float) and lists[key](one, key) is None:
                value[key] = [one]  # ClearML takes one value for a list of one
        for key, item in value.items():
            sub = props.get(key, extra)
            if sub is not None and item is not None:
                problem = sub(item, prefix + key)
                if problem:
                    return problem
        return None

    return check


def _items_check(item_check: Checker, null_ok: bool) -> Checker:
    def check(value: Any, path: str) -> str | None:
        if not isinstance(value, list):
            return None
        for index, item in enumerate(value):
            if item is None and not null_ok:  # a null string item (an id, a field name) names nothing
                return f"'{path}[{index}]' must be string, got null"
            problem = item_check(item, f"{path}[{index}]")
            if problem:
                return problem
        return None

    return check


def _any_check(branches: list[Checker], schemas: list[Any], compiler: _Compiler) -> Checker:
    # Pick the branch a value names through a ``const`` property (an event's ``type``), so the
    # message is about that branch instead of "matches none".
    discriminators: list[tuple[str, Any]] = []
    for sub in schemas:
        props = (compiler.resolve(sub) or {}).get("properties") or {}
        const = next(((k, v["const"]) for k, v in props.items() if isinstance(v, dict) and "const" in v), None)
        discriminators.append(const if const else ("", None))

    keys = {key for key, _ in discriminators if key}
    # when every branch is named so, the named one is the only one that can accept the value
    every = all(key and isinstance(const, str) for key, const in discriminators)
    named = {pair: branch for branch, pair in zip(branches, discriminators, strict=True)} if every else {}

    def check(value: Any, path: str) -> str | None:
        if named and isinstance(value, dict):
            for key in keys:  # straight to the branch the value names
                chosen = named.get((key, value.get(key))) if isinstance(value.get(key), str) else None
                if chosen is not None:
                    return chosen(value, path)
        problems = []
        for branch, (key, const) in zip(branches, discriminators, strict=True):
            if key and isinstance(value, dict) and value.get(key) == const:
                return branch(value, path)
            problems.append(branch(value, path))
            if problems[-1] is None:
                return None
        if keys and isinstance(value, dict):
            allowed = ", ".join(repr(c) for k, c in discriminators if k)
            field = "/".join(sorted(keys))
            return f"'{path + '.' if path else ''}{field}' must be one of {allowed}, got {_preview(value.get(field))}"
        return problems[0]

    return check


# Fast path. Most fields of most requests (every field of a scalar event) have a bare type for a
# schema; for those the classes that pass are tabled once per endpoint (per event type where the
# schema is an ``anyOf`` named by a ``const`` field), and a body whose every field has one of its
# classes is accepted without walking the checkers. Anything else (another class, a field with an
# enum, items or a range, a value to coerce) takes the full check, which alone words refusals:
# the table accepts only what the full check accepts.
_BARE_KEYS = frozenset({"type", "description", "default"})
_OBJECT_KEYS = frozenset({"type", "description", "properties", "required", "definitions"})
Table = dict[str, frozenset[type]]
_NULL_ONLY: frozenset[type] = frozenset({type(None)})
_ANY: frozenset[type] = frozenset({str, int, float, bool, list, dict, type(None)})


def _table(compiler: _Compiler, schema: Any, ignore: frozenset[str] = frozenset(), skip: str = "") -> Table | None:
    """The classes each listed field of an object schema may have (only null for a field with more checks).

    None when the object has checks beyond its fields' (``additionalProperties``, ``allOf`` ...).
    ``ignore`` names keys of the object checked elsewhere, ``skip`` a field checked elsewhere.
    """
    schema = compiler.resolve(schema)
    if not isinstance(schema, dict) or set(schema) - _OBJECT_KEYS - ignore:
        return None
    if schema.get("type") not in ("object", None):
        return None
    table: Table = {}
    for name, sub in (schema.get("properties") or {}).items():
        sub = compiler.resolve(sub)
        if name == skip or not isinstance(sub, dict):
            continue  # no check at all: as a field the schema does not list
        kinds = sub.get("type")
        names = [kinds] if isinstance(kinds, str) else list(kinds or ())
        if set(sub) - _BARE_KEYS or "array" in names:  # more checks, or a single value to coerce: full check
            table[name] = _NULL_ONLY
        elif names:
            table[name] = frozenset(cls for n in names for cls in _CLASSES.get(n, ())) | _NULL_ONLY
    return table


def _const_field(compiler: _Compiler, schema: Any) -> tuple[str, str] | None:
    """The one field an object schema fixes to a string (an event's ``type``), with that string."""
    props = (compiler.resolve(schema) or {}).get("properties") or {}
    named = [(k, v["const"]) for k, v in props.items() if isinstance(v, dict) and isinstance(v.get("const"), str)]
    return named[0] if len(named) == 1 else None


def _fast_tables(compiler: _Compiler, schema: Schema) -> tuple[str, dict[Any, Table]] | None:
    """The discriminating field ("" for none) and a table per value of it; None where no table applies."""
    top = _table(compiler, schema, ignore=frozenset({"anyOf", "oneOf"}))
    branches = schema.get("anyOf") or schema.get("oneOf")
    if top is None or not branches:
        return ("", {None: top}) if top is not None else None
    key, tables = "", {}
    for sub in branches:
        named = _const_field(compiler, sub)
        if named is None or key not in ("", named[0]):
            return None
        key, const = named
        branch = _table(compiler, sub, skip=key)  # the const matches: it named this table
        if branch is not None:  # a field both check must fit both
            fields = top.keys() | branch.keys()
            tables[const] = {k: top.get(k, branch.get(k, _ANY)) & branch.get(k, _ANY) for k in fields}
    return key, tables


def _fast_check(key: str, tables: dict[Any, Table], full: Checker) -> Checker:
    def check(value: Any, path: str) -> str | None:
        if value.__class__ is dict:
            named = value.get(key) if key else None
            table = tables.get(named) if named is None or named.__class__ is str else None
            if table is not None:
                for field, item in value.items():
                    classes = table.get(field)
                    if classes is not None and item.__class__ not in classes:
                        break
                else:
                    return None
        return full(value, path)

    return check


@lru_cache(maxsize=512)
def checker(endpoint: str) -> Checker | None:
    """The compiled check of ``endpoint``'s request body, or None when the SDK has no schema for it."""
    schema = request_schemas().get(endpoint)
    if schema is None:
        return None
    compiler = _Compiler(schema.get("definitions") or {})
    full = compiler.compile(schema)
    tables = _fast_tables(compiler, schema)
    return _fast_check(*tables, full) if tables else full


def check_request(endpoint: str, body: dict[str, Any]) -> str | None:
    """Why ``body`` does not fit ``endpoint``'s request schema, or None when it does (or there is none)."""
    check = checker(endpoint)
    return check(body, "") if check is not None else None
