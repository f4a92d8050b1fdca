"""``hpo agent``: local ``clearml-agent`` workers that run queued trials in this Python environment."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from hpo.cli._common import ApiHostOpt, JsonOpt, console, run

app = typer.Typer(help="Run local clearml-agent workers on the configured ClearML server.", no_args_is_help=True)


@app.command()
def start(
    queue: Annotated[
        list[str],
        typer.Option("--queue", "-q", help="Queue to pull from (repeat for several, highest priority first)."),
    ],
    workers: Annotated[int, typer.Option(help="How many agents (each runs one task at a time).")] = 1,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between queue polls; also how fast aborts are noticed.")
    ] = 0.5,
    api_host: ApiHostOpt = None,
) -> None:
    """Start agents (the queues are created when missing) and return once they are registered.

    Tasks run in this Python environment.

    On Linux tasks start as forks of a warm interpreter (HPO_AGENT_ZYGOTE=0: plain processes; macOS: =1 to opt in).
    """

    def work() -> None:
        from hpo import agents
        from hpo.connection import connect

        conn = connect(api_host)
        started = agents.start(queue, workers, poll_s=poll_interval)
        for agent in started:
            console.print(f"agent {agent.worker_id} (pid {agent.pid}) serves {', '.join(queue)}; log {agent.log_path}")
        console.print(f"server: {conn.describe()}")

    run(work)


@app.command()
def stop(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a clean stop before killing.")] = 15.0,
) -> None:
    """Stop every local agent; a task one of them runs ends ``stopped``."""

    def work() -> None:
        from hpo import agents

        stopped = agents.stop(timeout=timeout)
        console.print(f"stopped {len(stopped)} agent(s)" if stopped else "no agent running")

    run(work)


@app.command()
def status(
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the local agents (yours and those of running searches): pid, queues, the task each one runs."""

    def work() -> None:
        from hpo import agents
        from hpo.connection import connect

        if agents.recorded(searches=True):
            connect(api_host)
        rows = agents.status(searches=True)
        if as_json:
            console.print_json(json.dumps([asdict(r) for r in rows]))
            return
        if not rows:
            console.print("no agent started (hpo agent start --queue NAME)")
            return
        table = Table("worker", "pid", "state", "search", "queues", "running task", "log")
        for row in rows:
            state = ("registered" if row.registered else "not registered") if row.alive else "dead"
            state += f", restarted {row.restarts}x" if row.restarts else ""
            task = f"{row.task_name} ({row.task_id})" if row.task_id else "-"
            search = row.study or "-"
            table.add_row(row.worker_id, str(row.pid), state, search, ", ".join(row.queues), task, row.log_path)
        console.print(table)

    run(work)
