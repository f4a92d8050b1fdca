"""``debug.ping`` latency beside hostile requests, and the server's memory under an oversized body.

Run by hand::

    python bench/server_hostile.py [--events 200000]

Starts a real embedded server, creates a task named ``"a" * 28 + "!"`` and measures, over real
HTTP on 127.0.0.1:

1. the anchor: ``debug.ping`` latency (p50, max) on an idle server;
2. the same while each hostile request is in flight: a ReDoS name filter (``^(a+)+$``), ``only_fields``
   as a 1 MB string on ``projects.get_all`` and ``queues.get_all``, a ``--events`` event batch, and
   a 100 MB unauthenticated body to ``debug.ping``; with each request's answer and duration;
3. the server's RSS (VmRSS, and VmHWM, its peak) before and after the 100 MB body (sent first).

Prints each max ping against the anchor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpo import local_server  # noqa: E402
from tests.support.api import RawAPI  # noqa: E402
from tests.support.server import free_port  # noqa: E402


def _pings(url: str, stop: threading.Event, out: list[tuple[float, float]]) -> None:
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.post(f"{url}/debug.ping", json={})
            out.append((started, time.perf_counter()))
            time.sleep(0.005)


def _beside(url: str, request: Callable[[], httpx.Response]) -> tuple[list[float], httpx.Response, float]:
    """Latencies of the pings that overlapped ``request`` (at least the first one after it began)."""
    stop = threading.Event()
    pings: list[tuple[float, float]] = []
    pinger = threading.Thread(target=_pings, args=(url, stop, pings))
    pinger.start()
    while not pings:
        time.sleep(0.01)
    started = time.perf_counter()
    try:
        response = request()
    finally:
        ended = time.perf_counter()
        while not any(end > started for _, end in pings):
            time.sleep(0.01)
        stop.set()
        pinger.join()
    overlapping = [end - begin for begin, end in pings if end > started and begin < ended]
    return overlapping, response, ended - started


def _rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        server, _ = local_server.start(data_dir, port=free_port())
        try:
            _run(server, args.events)
        finally:
            local_server.stop(data_dir)


def _run(server: local_server.RunningServer, events: int) -> None:
    api = RawAPI(server)
    task = api.call("tasks.create", {"name": "a" * 28 + "!", "type": "training"})["id"]
    idle, _, _ = _beside(server.url, lambda: (time.sleep(2), api.raw("debug.ping"))[1])
    anchor = max(idle)
    print(f"anchor: idle debug.ping p50 {statistics.median(idle) * 1000:.1f} ms, max {anchor * 1000:.1f} ms")
    # first, so that VmHWM (the peak) is this request's and no earlier one's
    big = b"{" + b" " * (100 * 1024 * 1024) + b"}"
    before = _rss_kib(server.pid)
    latencies, response, took = _beside(
        server.url,
        lambda: httpx.post(f"{server.url}/debug.ping", content=big, headers={"Content-Type": "application/json"}),
    )
    after = _rss_kib(server.pid)
    print(
        f"100 MB unauthenticated body to debug.ping: answered {response.status_code} in {took * 1000:.0f} ms;"
        f" server RSS {before['VmRSS'] / 1024:.0f} -> {after['VmRSS'] / 1024:.0f} MiB"
        f" (peak {after['VmHWM'] / 1024:.0f} MiB); debug.ping beside it: max {max(latencies) * 1000:.1f} ms"
    )
    line = '{"task": "%s", "type": "training_stats_scalar", "metric": "m", "variant": "v", "value": 1, "iter": %d}'
    batch = "\n".join(line % (task, i) for i in range(events)).encode()
    probes: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("ReDoS name filter ^(a+)+$", lambda: api.raw("tasks.get_all", {"name": "^(a+)+$"})),
        ("projects.get_all only_fields 1 MB string", lambda: api.raw("projects.get_all", {"only_fields": "x" * 2**20})),
        ("queues.get_all only_fields 1 MB string", lambda: api.raw("queues.get_all", {"only_fields": "x" * 2**20})),
        (
            f"events.add_batch {events} events ({len(batch) / 2**20:.0f} MiB)",
            lambda: api.client.request(
                "POST", "/v2.23/events.add_batch", content=batch, headers={"Content-Type": "application/json-lines"}
            ),
        ),
    ]
    for name, request in probes:
        latencies, response, took = _beside(server.url, request)
        print(
            f"{name}: answered {response.status_code} in {took * 1000:.0f} ms; debug.ping beside it:"
            f" {len(latencies)} pings, max {max(latencies) * 1000:.1f} ms ({max(latencies) / anchor:.1f}x the anchor)"
        )
    print(json.dumps({"anchor_ms": anchor * 1000}))
    api.close()


if __name__ == "__main__":
    main()
