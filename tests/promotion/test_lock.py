"""The server-side lock: mutual exclusion between real processes, stale locks, lost leases."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.support.server import Env

CONTEND = """
import json, os, sys, time
from clearml.backend_api.session.client import APIClient
from hpo.promotion import ServerLock

start_at, log = float(sys.argv[1]), sys.argv[2]
APIClient().queues.get_all(name="^warm-up$")  # log in before the start line
while time.time() < start_at:
    time.sleep(0.002)
for _ in range(3):
    with ServerLock("tfidf|Amazon reviews|Amazon reviews dataset", poll_s=0.05):
        entered = time.time()
        time.sleep(0.05)
        with open(log, "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "entered": entered, "left": time.time()}) + "\\n")
print("RESULT 0")
"""

QUEUES = """
import json
from clearml.backend_api.session.client import APIClient
print("RESULT " + json.dumps(sorted(q.name for q in APIClient().queues.get_all())))
"""


def test_lock_excludes_other_processes(clearml: Env, tmp_path: Path) -> None:
    script = tmp_path / "contend.py"
    script.write_text(CONTEND)
    log = tmp_path / "critical.jsonl"
    start_at = time.time() + 6  # after every process has imported the SDK and logged in
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(start_at), str(log)],
            env=clearml.vars,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    sections = sorted((json.loads(line) for line in log.read_text().splitlines()), key=lambda s: s["entered"])
    assert len(sections) == 9 and len({s["pid"] for s in sections}) == 3
    for before, after in zip(sections, sections[1:], strict=False):
        assert before["left"] <= after["entered"], (before, after)
    assert not [q for q in clearml.run(QUEUES).result if q.startswith("hpo-lock-")]


STALE = """
import json, time
from clearml.backend_api.session.client import APIClient
from hpo.promotion import LockError, ServerLock
from hpo.promotion._lock import lock_name

client, key = APIClient(), "bert|P|D"
# A lock whose holder was killed: its lease ended a minute ago.
stale = client.queues.create(name=lock_name(key), tags=["holder:gone:1", f"expires:{time.time() - 60}"]).id
lock = ServerLock(key, wait_s=10)
lock.acquire()
out = {"broke_stale": lock.queue_id != stale}
# A live holder: a second taker waits, then gives up naming the holder.
try:
    ServerLock(key, wait_s=0.5, poll_s=0.05).acquire()
    out["second"] = "acquired"
except LockError as err:
    out["second"] = str(err)
# A holder whose lease was broken notices before it writes.
client.queues.delete(queue=lock.queue_id)
try:
    lock.check()
    out["check"] = "held"
except LockError as err:
    out["check"] = str(err)
lock.release()  # already gone: logged, not raised
print("RESULT " + json.dumps(out))
"""


def test_lock_breaks_stale_lock_and_times_out_on_live_one(clearml: Env) -> None:
    out = clearml.run(STALE).result
    assert out["broke_stale"] is True
    assert "another promotion" in out["second"] and "holds the lock for 'bert|P|D'" in out["second"]
    assert "lost the lock" in out["check"]
