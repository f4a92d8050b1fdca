"""``python -m hpo.server``: serve one data directory in the foreground."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hpo.server._config import ServerConfig
from hpo.server._serve import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hpo.server")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8008)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(ServerConfig(data_dir=args.data_dir.resolve(), host=args.host, port=args.port))


if __name__ == "__main__":
    main()
