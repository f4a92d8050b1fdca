"""The light install: what the core imports, and the one line a missing extra gets."""

from __future__ import annotations

import ast
import builtins
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tomllib

from hpo._extras import install_command, missing_extra, require_extra
from hpo.data import _table
from hpo.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HEAVY = ("torch", "transformers", "tokenizers", "pyarrow", "psycopg", "playwright", "pytest", "mypy")
# pandas imports pyarrow whenever it is installed, so the import check leaves it out.
HEAVY_IMPORTS = tuple(name for name in HEAVY if name != "pyarrow")


def _hide(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make ``import package`` (and its submodules) fail as if it were not installed."""
    real_import = builtins.__import__

    def without(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == package or name.startswith(package + "."):
            raise ModuleNotFoundError(f"No module named {package!r}", name=package)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)


def _requirement_name(requirement: str) -> str:
    return requirement.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()


def test_core_dependencies_hold_no_heavy_package() -> None:
    core = {_requirement_name(req) for req in PYPROJECT["project"]["dependencies"]}
    assert not core & set(HEAVY), core & set(HEAVY)


def _extras_named(tree: ast.Module) -> set[str]:
    """The extras a module passes to the helpers, as literals or module-level string constants."""
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    position = {"install_command": 0, "require_extra": 1, "missing_extra": 2}
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in position:
            arg = node.args[position[node.func.id]] if len(node.args) > position[node.func.id] else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                named.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                named.add(constants[arg.id])
    return named


def test_every_extra_named_in_the_code_exists() -> None:
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    named = set().union(*(_extras_named(ast.parse(path.read_text())) for path in (ROOT / "hpo").rglob("*.py")))
    assert named >= {"bert", "converge", "parquet", "postgres"}, named
    assert named <= extras, named - extras


def test_main_job_modules_import_without_the_extras() -> None:
    code = (
        "import sys, hpo.cli, hpo.server, hpo.search, hpo.promotion, hpo.data, hpo.agents, hpo.dashboard;"
        f" print(sorted(m for m in {HEAVY_IMPORTS!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_require_extra_returns_the_module() -> None:
    assert require_extra("json.decoder", "parquet", "here").__name__ == "json.decoder"


def test_require_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "pyarrow")
    with pytest.raises(ConfigError) as raised:
        require_extra("pyarrow", "parquet", "reading t.parquet")
    assert str(raised.value) == (
        "reading t.parquet: needs the package 'pyarrow', which is not installed; pip install 'clearml-hpo[parquet]'"
    )


def test_missing_extra_names_a_dependency_that_failed_inside() -> None:
    err = ModuleNotFoundError("No module named 'sympy'", name="sympy")
    assert "(importing it failed on 'sympy')" in str(missing_extra("--stop-when converged", "torch", "converge", err))


@pytest.mark.parametrize("extra", ["bert", "converge"])
def test_install_command_installs_the_torch_pin_first(extra: str) -> None:
    pin = next(req for req in PYPROJECT["project"]["optional-dependencies"][extra] if req.startswith("torch"))
    assert install_command(extra) == f"pip install {pin} && pip install 'clearml-hpo[{extra}]'"


def test_parquet_table_without_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    table = tmp_path / "reviews.parquet"
    pd.DataFrame({"text": ["good", "bad"], "label": ["1", "0"]}).to_parquet(table)
    _hide(monkeypatch, "pyarrow")
    with pytest.raises(ConfigError, match=r"reading .*reviews\.parquet: needs the package 'pyarrow'.*\[parquet\]'$"):
        _table.read_table(table)


def _quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") :]
    quickstart = quickstart[: quickstart.index("\n## ", 1)]
    return [block.split("```", 1)[0].strip() for block in quickstart.split("```bash\n")[1:]]


def test_ci_runs_the_readme_install_and_test_commands() -> None:
    install, test = _quickstart_commands()[:2]
    assert install.endswith(" && .venv/bin/hpo search tfidf"), install
    assert "[dev]" not in install and "torch" not in install, install
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install.removesuffix(" && .venv/bin/hpo search tfidf") in ci
    assert test in ci and test.endswith("scripts/test"), test
