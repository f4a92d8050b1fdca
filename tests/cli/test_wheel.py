"""The wheel runs the main job: built, installed into a fresh venv outside the checkout, then
``hpo search tfidf --trials 3`` from a folder that is not the checkout, on its own embedded server.

The fresh venv gets only the wheel (``--no-deps``); its dependencies come from this test venv
through a ``.pth`` line (a plain path: the editable install's own ``.pth`` hooks are not run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support.data import write_reviews
from tests.support.server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# What the build does not need: copying the rest keeps the checkout free of build/ and dist/.
_NOT_BUILT = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench", "docs", "scripts"
)


def _check(cmd: list[str], **kwargs: object) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-5000:]}"
    return str(proc.stdout)


def _build_wheel(tmp: Path) -> Path:
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_BUILT)
    dist = tmp / "dist"
    # No build isolation: this venv's setuptools builds it, with no index needed.
    _check(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), "."],
        cwd=source,
    )
    (wheel,) = dist.glob("clearml_hpo-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _check(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)]
    )
    purelib = Path(_check([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    (purelib / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.mark.timeout(900)
def test_wheel_installed_outside_the_checkout_runs_the_main_job(tmp_path: Path) -> None:
    venv = _fresh_venv(tmp_path, _build_wheel(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_", "HPO_"))}
    env.update(HOME=str(tmp_path / "user"), HPO_HOME=str(tmp_path / "hpo_home"), HF_HUB_OFFLINE="1")
    (tmp_path / "user").mkdir()

    def hpo(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "hpo"), *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=timeout
        )

    where = _check(
        [str(venv / "bin" / "python"), "-c", "import hpo.paths as p; print(p.__file__)"], cwd=elsewhere, env=env
    )
    assert Path(where.strip()).is_relative_to(venv), f"hpo imported from {where}, not from the wheel"
    started = hpo("server", "start", "--port", str(free_port()))
    assert started.returncode == 0, started.stderr
    try:
        reviews = write_reviews(elsewhere / "reviews.csv", reviews=40)
        columns = ["--text-col", "sentence", "--label-col", "sentiment", "--group-col", "review"]
        added = hpo(
            "data",
            "add",
            str(reviews),
            "--name",
            "Amazon reviews dataset",
            "--project",
            "Amazon reviews",
            "--version",
            "1.0.0",
            *columns,
        )
        assert added.returncode == 0, added.stderr[-3000:]
        result = hpo("search", "tfidf", "--trials", "3", "--json", timeout=480)
        assert result.returncode == 0, result.stderr[-5000:]
        summary = json.loads(result.stdout)
        assert summary["state"] == "finished"
        assert summary["counts"]["completed"] == 3
        assert summary["best"]["value"] > 0.5
    finally:
        hpo("server", "stop")
