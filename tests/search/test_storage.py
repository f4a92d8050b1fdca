"""The study storage: opened by several processes at once (a search, ``hpo status``, a dashboard)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

OPEN = """
import sys, time
from hpo.search import _study
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
_study.open_storage(sys.argv[1])
print("opened")
"""


def test_a_fresh_storage_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    start = time.time() + 3.0  # after every process has imported optuna
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN, url, str(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    outcomes = [proc.communicate(timeout=120) for proc in procs]
    errors = [err.decode()[-2000:] for (out, err), proc in zip(outcomes, procs, strict=True) if proc.returncode]
    assert not errors, errors
