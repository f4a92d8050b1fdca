"""The command line imports heavy libraries only when a command needs them, so help and bad input answer fast.

Help speed itself is measured by hand (``python -X importtime``, wall time); here the cause is checked:
what a process has imported after ``import hpo.cli``, after ``hpo --help``, and after a bad search space.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ["clearml", "clearml.automation", "optuna", "torch", "transformers", "pandas", "sklearn", "sqlalchemy"]

RUN = """
import sys
args = sys.argv[1:sys.argv.index("--")]
heavy = sys.argv[sys.argv.index("--") + 1:]
import hpo.cli
if args:
    sys.argv = ["hpo", *args]
    try:
        hpo.cli.main()
    except SystemExit:
        pass
print("IMPORTED", " ".join(m for m in heavy if m in sys.modules))
"""


def _imported(tmp_path: Path, args: list[str], heavy: list[str]) -> list[str]:
    env = {"HPO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-c", RUN, *args, "--", *heavy], capture_output=True, text=True, env=env, timeout=120
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("IMPORTED")]
    assert lines, out.stdout + out.stderr
    return lines[-1].split()[1:]


@pytest.mark.parametrize(
    "args", [[], ["--help"], ["search", "--help"], ["status", "--help"], ["data", "add", "--help"]]
)
def test_import_and_help_load_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    assert _imported(tmp_path, args, HEAVY) == []


def test_a_bad_search_space_is_refused_without_clearml(tmp_path: Path) -> None:
    """Validation needs the space model (and Optuna for its samplers), never the SDK or its optimizer."""
    heavy = ["clearml", "clearml.automation", "torch", "pandas"]
    assert _imported(tmp_path, ["search", str(tmp_path / "missing.yaml")], heavy) == []


@pytest.mark.parametrize("args", [["status"], ["studies"], ["status", "--json"]])
def test_watching_searches_needs_no_clearml(tmp_path: Path, args: list[str]) -> None:
    """`hpo status` and `hpo studies` read the study only: no SDK, no optimizer (they used to load both)."""
    assert _imported(tmp_path, args, ["clearml", "clearml.automation", "torch", "pandas"]) == []
