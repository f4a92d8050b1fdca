"""A real embedded server per test and the environment a real SDK subprocess needs to talk to it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo import local_server

SDK_CONF = """
sdk {
  development { report_use_subprocess: false }
  metrics { file_history_size: 5 }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SDKResult:
    returncode: int
    output: str
    results: list[Any]

    @property
    def result(self) -> Any:
        assert self.results, f"script printed no RESULT line:\n{self.output}"
        return self.results[-1]


@dataclass
class Env:
    """A started embedded server plus what a ClearML program needs to talk to it."""

    server: local_server.RunningServer
    root: Path
    vars: dict[str, str]

    def run(self, script: str, *args: str, check: bool = True, timeout: float = 180) -> SDKResult:
        """Run ``script`` with the real SDK in a fresh interpreter; RESULT <json> lines are parsed."""
        path = self.root / f"script_{abs(hash(script)) % 10**8}.py"
        path.write_text(textwrap.dedent(script))
        proc = subprocess.run(
            [sys.executable, str(path), *args],
            cwd=self.root,
            env=self.vars,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = proc.stdout + proc.stderr
        results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if check:
            assert proc.returncode == 0, f"script failed ({proc.returncode}):\n{output}"
        return SDKResult(proc.returncode, output, results)


def sdk_env(server: local_server.RunningServer, root: Path) -> dict[str, str]:
    home = root / "home"
    home.mkdir(exist_ok=True)
    conf = root / "clearml.conf"
    conf.write_text(SDK_CONF)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    env.update(server.env())
    env.update(
        HOME=str(home),
        CLEARML_CONFIG_FILE=str(conf),
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        HPO_HOME=str(root / "hpo_home"),
    )
    return env
