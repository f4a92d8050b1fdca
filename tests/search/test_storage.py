"""The study storage: opened by several processes at once (a search, ``hpo status``, a dashboard)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

OPEN = """
import sys, time
from hpo import study as _study
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


def test_controller_gone_by_pid_on_this_host_and_by_heartbeat_elsewhere() -> None:
    import os
    import socket

    from hpo.study import HEARTBEAT_STALE_S, controller_gone

    here, now = socket.gethostname(), time.time()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    fresh, stale = now - 1, now - HEARTBEAT_STALE_S - 1

    def attrs(host: str, pid: int, heartbeat: float, state: str = "running") -> dict[str, object]:
        return {"state": state, "controller": {"host": host, "pid": pid}, "heartbeat": heartbeat}

    assert not controller_gone(attrs(here, os.getpid(), stale), now)  # alive here, however old its heartbeat
    assert controller_gone(attrs(here, dead_pid, fresh), now)
    assert not controller_gone(attrs("elsewhere", dead_pid, fresh), now)
    assert controller_gone(attrs("elsewhere", dead_pid, stale), now)
    assert not controller_gone(attrs(here, dead_pid, stale, state="finished"), now)
