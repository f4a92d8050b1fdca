"""``python -m hpo.server``: serve one data directory in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from hpo.server._config import DEFAULT_TASK_TIMEOUT_S, TASK_TIMEOUT_ENV, ServerConfig
from hpo.server._serve import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hpo.server")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8008)
    parser.add_argument(
        "--task-timeout",
        type=float,
        default=float(os.environ.get(TASK_TIMEOUT_ENV) or DEFAULT_TASK_TIMEOUT_S),
        help=f"seconds a worker may stay silent before its running task is failed (env {TASK_TIMEOUT_ENV})",
    )
    args = parser.parse_args()
    if args.task_timeout <= 0:
        parser.error(f"--task-timeout must be positive, got {args.task_timeout}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(
        ServerConfig(
            data_dir=args.data_dir.resolve(),
            host=args.host,
            port=args.port,
            task_timeout_s=args.task_timeout,
            # look often enough that a short timeout (tests) is noticed promptly
            watchdog_period_s=min(5.0, args.task_timeout / 4),
        )
    )


if __name__ == "__main__":
    main()
