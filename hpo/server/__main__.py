"""``python -m hpo.server``: serve one data directory in the foreground."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hpo.errors import HPOError
from hpo.server._config import DEFAULT_HOST, DEFAULT_PORT, TASK_TIMEOUT_ENV, runtime_config
from hpo.server._serve import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hpo.server")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--task-timeout",
        type=float,
        default=None,
        help=f"seconds a worker may stay silent before its running task is failed (env {TASK_TIMEOUT_ENV})",
    )
    parser.add_argument("--public-url", default=None, help="URL other machines reach the server at")
    parser.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate: serve HTTPS")
    parser.add_argument("--tls-key", type=Path, default=None, help="PEM private key of --tls-cert")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = runtime_config(
            args.data_dir,
            args.host,
            args.port,
            args.task_timeout,
            public_url=args.public_url,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
        )
        serve(config)
    except HPOError as err:
        # the parent (hpo server start) shows this line as the reason the server did not start
        print(f"[error] {err}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
