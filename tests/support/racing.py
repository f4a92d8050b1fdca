"""Race tests whose racers really overlap: processes released at once from a barrier, and a check
on their timestamps, so a race test cannot pass by its racers running one after another.

A racer is a Python source that defines ``race(*argv)``; :func:`race` starts ``n`` interpreters
that import it, waits until every one is ready, releases them together (a line on each stdin),
and returns what each ``race`` returned with the times it was entered and left.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_HARNESS = """
import json, sys, time
print("ready", flush=True)
sys.stdin.readline()  # the barrier: every racer is imported and waiting
entered = time.time()
outcome = race(*sys.argv[1:])
left = time.time()
print("RACE " + json.dumps({"entered": entered, "left": left, "outcome": outcome}), flush=True)
"""


@dataclass
class Racer:
    entered: float
    left: float
    outcome: Any


def race(
    racer: str,
    *args: str,
    n: int = 6,
    each: Sequence[Sequence[str]] = (),
    timeout: float = 180,
    env: dict[str, str] | None = None,
) -> list[Racer]:
    """Run ``n`` copies of ``racer`` released at the same instant, racer ``i`` with ``args`` then
    ``each[i]``; fails when one fails."""
    source = textwrap.dedent(racer) + _HARNESS
    extra = list(each) or [()] * n
    assert len(extra) == n, "one `each` entry per racer"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", source, *args, *extra[i]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(n)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", f"a racer died before the barrier: {line}{proc.communicate()[1][-3000:]}"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = [proc.communicate(timeout=timeout) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    errors = [err[-3000:] for (_, err), proc in zip(outcomes, procs, strict=True) if proc.returncode]
    assert not errors, errors
    racers = []
    for out, _ in outcomes:
        [line] = [line for line in out.splitlines() if line.startswith("RACE ")]
        data = json.loads(line[5:])
        racers.append(Racer(data["entered"], data["left"], data["outcome"]))
    return racers


def assert_overlapped(racers: list[Racer]) -> None:
    """Every racer was inside the race at one same instant (the last entered before the first left)."""
    last_in = max(r.entered for r in racers)
    first_out = min(r.left for r in racers)
    assert last_in < first_out, (
        f"the racers did not overlap (last entered {last_in:.3f}, first left {first_out:.3f}): "
        "they ran one after another, so this run proves nothing about the race"
    )
