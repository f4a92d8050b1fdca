"""Where a search's log lines go: all of them to its log file; to the terminal only ours, or all with --verbose.

The ClearML SDK logs through its ``clearml`` logger, which does not propagate and writes to the
stdout it saw at import, and ClearML's optimizer also ``print``s its reports from its own thread.
While a search runs, :func:`search_logging` therefore:

- gives the ``clearml`` logger a file handler instead of its own stream handler (the SDK adds that
  handler the first time it asks for the logger, so it is asked here first);
- turns ``print`` output into log lines of ``hpo.search.stdout``;
- sends every log record at INFO and above to the log file, and to the terminal (through Rich, so
  the live view stays whole) only the suite's own warnings, or everything with ``verbose``.

Everything is put back as it was on exit.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("httpx",)  # one INFO line per request (our health and queue checks): warnings only
STDOUT_LOGGER = "hpo.search.stdout"  # what the SDK and ClearML's optimizer print


class _Lines(io.TextIOBase):
    """A text stream that logs each complete line it is given (for ``print`` from any thread)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._partial = ""
        self._lock = threading.Lock()  # print() writes the text and its newline separately

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
        for line in lines:
            if line.strip():
                self._logger.info("%s", line.rstrip())
        return len(text)

    def flush(self) -> None:
        pass  # callers flush mid-line (progress bars): a line is logged when it ends, or at drain()

    def drain(self) -> None:
        """Log what is left of an unfinished line."""
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest.strip():
            self._logger.info("%s", rest.rstrip())


class _Ours(logging.Filter):
    """The suite's own records (``hpo.*``), except what it relays from the SDK's ``print``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("hpo") and not record.name.startswith(STDOUT_LOGGER)


def _sdk_logger() -> logging.Logger:
    from clearml.debugging.log import LoggerRoot

    return LoggerRoot.get_base_logger()  # creates it with its stream handler, if not yet done


@contextlib.contextmanager
def search_logging(log_file: Path, console: Console, verbose: bool = False) -> Iterator[None]:
    """Route the SDK's, the optimizer's and our own log lines as the module docstring says.

    Args:
        log_file: The search's log file (appended to).
        console: The terminal's console (stderr), which the live view also draws on.
        verbose: Show every line on the terminal too, not only the suite's warnings.
    """
    to_file = logging.FileHandler(log_file, encoding="utf-8")
    to_file.setFormatter(logging.Formatter(FORMAT))
    to_file.setLevel(logging.INFO)
    to_terminal = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    to_terminal.setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:
        to_terminal.addFilter(_Ours())
    root, sdk = logging.getLogger(), _sdk_logger()
    saved = (root.level, list(root.handlers), sdk.level, list(sdk.handlers))
    quiet = {name: logging.getLogger(name).level for name in QUIET}
    debug = root.level == logging.DEBUG  # --debug keeps its own stderr handler as it is
    if not debug:
        root.handlers = []
    root.addHandler(to_file)
    root.addHandler(to_terminal)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    sdk.handlers = [to_file, to_terminal] if verbose or debug else [to_file]
    sdk.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    lines = _Lines(logging.getLogger(STDOUT_LOGGER))
    try:
        with contextlib.redirect_stdout(lines):
            yield
    finally:
        lines.drain()
        logging.captureWarnings(False)
        root.setLevel(saved[0])
        root.handlers = saved[1]
        sdk.setLevel(saved[2])
        sdk.handlers = saved[3]
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
        to_file.close()


__all__ = ["STDOUT_LOGGER", "search_logging"]
