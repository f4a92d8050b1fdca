"""Who imports whom, read from the source with ``ast`` (function-level imports included).

The launcher (``hpo.local_server``) is client code: ``hpo.connection`` reaches the embedded server
only through it, the CLI through it and ``hpo.server``'s public names, and the server package imports
neither of them, so no import cycle runs through the server.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HPO = ROOT / "hpo"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it; ``from a import b`` counts as ``a`` and ``a.b``."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def _sources() -> dict[str, Path]:
    return {_module(path): path for path in HPO.rglob("*.py")}


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _reachable(start: str, sources: dict[str, Path]) -> set[str]:
    """The hpo modules ``start`` imports, directly or through others (a package's ``__init__`` included).

    The root package ``hpo`` is not followed: all it imports is the lazy ``hpo.get_best_model``.
    """
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen or module not in sources:
            continue
        seen.add(module)
        for name in _imports(sources[module]):
            parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)]
            todo += [parent for parent in parents if parent in sources and parent != "hpo"]
    return seen


def test_imports_reads_function_level_imports() -> None:
    # the checks below mean nothing if a lazy import inside a function went unseen
    path = HPO / "cli" / "server.py"
    assert "hpo.server.ui.sign_in_link" in _imports(path) and "hpo.local_server" in _imports(path)


def test_connection_imports_nothing_of_the_server() -> None:
    found = sorted(m for m in _imports(HPO / "connection.py") if _under(m, "hpo.server"))
    assert found == [], f"hpo/connection.py imports {found}; reach the server through hpo.local_server"


def test_cli_server_imports_no_private_module_of_the_server() -> None:
    private = sorted(
        m for m in _imports(HPO / "cli" / "server.py") if _under(m, "hpo.server") and "._" in m.removeprefix("hpo")
    )
    assert private == [], f"hpo/cli/server.py imports {private}; use hpo.server's public names"


def test_launcher_uses_only_public_names_of_the_server() -> None:
    private = sorted(m for m in _imports(HPO / "local_server.py") if _under(m, "hpo.server") and "._" in m)
    assert private == [], f"hpo/local_server.py imports {private}; export them from hpo.server"


@pytest.mark.parametrize("client", ["hpo.connection", "hpo.local_server", "hpo.clearml_conf", "hpo.cli"])
def test_no_server_module_reaches_client_code(client: str) -> None:
    sources = _sources()
    cycles = sorted(
        f"{module} -> {client}"
        for module in sources
        if _under(module, "hpo.server") and any(_under(m, client) for m in _reachable(module, sources))
    )
    assert cycles == [], f"the server package reaches client code: {cycles[:5]}"


def test_clearml_conf_and_connection_stay_below_the_launcher() -> None:
    sources = _sources()
    assert "hpo.local_server" not in _reachable("hpo.clearml_conf", sources)  # else local_server -> itself
    assert "hpo.connection" not in _reachable("hpo.local_server", sources)  # else connection -> itself
