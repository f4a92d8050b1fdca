"""The server's layering, read from its source with ``ast`` so that it cannot silently regress.

``routes/`` (the API) and ``ui/`` (the web UI) both stand on ``domain/`` and never import each
other; a route module imports no sibling route module's internals (only its own package's and
``routes/_common.py``); the domain imports neither; the store imports none of them, and only the
store speaks SQL (no SQL text, no ``.db.query``/``.execute`` outside ``store/``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "hpo" / "server"
PACKAGE = "hpo.server"
SQL = re.compile(r"\bSELECT\b.+\bFROM\b|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b", re.S)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVER.parent.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in a file, relative imports resolved, ``from a import b`` as ``a.b``."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    return _imports_of(path.read_text(), package)


def _imports_of(source: str, package: str = PACKAGE) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _files(layer: str) -> list[Path]:
    return sorted((SERVER / layer).rglob("*.py"))


def _inside(module: str, layer: str) -> bool:
    prefix = f"{PACKAGE}.{layer}"
    return module == prefix or module.startswith(prefix + ".")


def _violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(SERVER)}:{line} imports {module}"
        for path in _files(layer)
        for line, module in _imports(path)
        if any(_inside(module, other) for other in forbidden)
    ]


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("ui", ("routes",)),
        ("routes", ("ui",)),
        ("domain", ("routes", "ui")),
        ("store", ("routes", "ui", "domain")),
    ],
)
def test_layer_imports_nothing_above_or_beside_it(layer: str, forbidden: tuple[str, ...]) -> None:
    assert _files(layer), f"no modules found under {SERVER / layer}"
    assert _violations(layer, forbidden) == []


def test_domain_and_store_know_no_http() -> None:
    """Neither takes a request (``Call``) nor touches the web framework: both serve the API and the UI alike."""
    http = ("starlette", "uvicorn", f"{PACKAGE}._app", f"{PACKAGE}._router.Call", f"{PACKAGE}._router.Router")
    found = [
        f"{path.relative_to(SERVER)}:{line} imports {module}"
        for layer in ("domain", "store")
        for path in _files(layer)
        for line, module in _imports(path)
        if any(module == name or module.startswith(name + ".") for name in http)
    ]
    assert found == []


def _route_unit(module: str) -> str:
    """The route module or route package a module belongs to (``hpo.server.routes.tasks._crud`` -> ``...tasks``)."""
    return ".".join(module.split(".")[:4])


def _helpers() -> set[str]:
    """The private helper modules of ``routes/`` (``_common.py`` ...): top-level ``_*.py`` that serve no endpoint."""
    found = set()
    for path in sorted((SERVER / "routes").glob("_*.py")):
        if path.name != "__init__.py" and "router = Router()" not in path.read_text():
            found.add(_module_name(path))
    return found


def test_route_modules_import_no_sibling_route_module() -> None:
    """Routes share rules through the domain, never through each other's internals; helpers (``_common``) are shared."""
    helpers = _helpers()
    assert f"{PACKAGE}.routes._common" in helpers and f"{PACKAGE}.routes.events" not in helpers
    found = []
    for path in _files("routes"):
        own = _module_name(path)
        if own == f"{PACKAGE}.routes":
            continue  # the package's registry lists every route module
        for line, module in _imports(path):
            if not _inside(module, "routes") or _route_unit(module) in helpers:
                continue
            if _route_unit(module) != _route_unit(own):
                found.append(f"{path.relative_to(SERVER)}:{line} imports {module}")
    assert found == []


def _sql_uses(source: str, where: str) -> list[str]:
    """SQL text, ``.db.query(...)`` and ``.execute*(...)`` calls in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"{where}:{node.lineno} SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            on_db = func.attr == "query" and isinstance(func.value, ast.Attribute) and func.value.attr == "db"
            if on_db or func.attr in ("execute", "executemany", "executescript"):
                found.append(f"{where}:{node.lineno} runs SQL (.{func.attr})")
    return found


def test_only_the_store_speaks_sql() -> None:
    outside = [p for p in sorted(SERVER.rglob("*.py")) if "store" not in p.relative_to(SERVER).parts]
    assert len(outside) > 20
    found = [use for path in outside for use in _sql_uses(path.read_text(), str(path.relative_to(SERVER)))]
    assert found == []


def test_the_checks_see_what_they_forbid() -> None:
    """The walkers find an import, SQL text and a database call when there is one, so a pass means something."""
    assert (1, f"{PACKAGE}.routes.events.metric_key") in _imports_of("from hpo.server.routes.events import metric_key")
    assert _inside(f"{PACKAGE}.routes.events.metric_key", "routes")
    assert _route_unit(f"{PACKAGE}.routes.tasks._docs") != _route_unit(f"{PACKAGE}.routes.queues")
    assert len(_sql_uses('rows = store.db.query("SELECT body FROM events WHERE task = ?", (1,))', "x")) == 2
    assert len(_sql_uses("conn.execute(sql)", "x")) == 1
    assert _sql_uses('label = "Select a queue from the list"; store.tasks.query(q)', "x") == []
