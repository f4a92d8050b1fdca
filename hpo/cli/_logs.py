"""Where a search's log lines go: all of them to its log file; to the terminal only ours, or all with --verbose.

The ClearML SDK logs through its ``clearml`` logger, which does not propagate and writes to the
stdout it saw at import, and ClearML's optimizer also ``print``s its reports from its own thread.
While a search runs, :func:`search_logging` therefore:

- gives the ``clearml`` logger a file handler instead of its own stream handler (the SDK adds that
  handler the first time it asks for the logger, so it is asked here first);
- turns ``print`` output into log lines of ``hpo.search.stdout``;
- sends every log record at INFO and above to the log file, and to the terminal (through Rich, so
  the live view stays whole) only the suite's own warnings, or everything with ``verbose``;
- shows each setup step (a record logged with ``extra={"step": True}``: the server started on port
  N and why not 8008, the demo data and the template registered, the local agents started) on the
  terminal as a plain line, so the first search of a fresh ``HPO_HOME`` is never a blank terminal.

Everything is put back as it was on exit. On a terminal the search is drawn by :func:`live_view`
(redrawn in place, erased before the final table); where none is drawn (output piped, a CI log,
``--json``), :class:`PlainProgress` prints a progress line every few seconds instead.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.live import Live
from rich.logging import RichHandler
from rich.text import Text

if TYPE_CHECKING:
    from hpo.study import Summary

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


def _is_step(record: logging.LogRecord) -> bool:
    return bool(getattr(record, "step", False))


class _Steps(logging.Handler):
    """Setup steps as plain lines on the terminal (no time or level column: they read as a story)."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self._console = console
        self.addFilter(_is_step)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._console.print(record.getMessage(), markup=False, highlight=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


class _Plain(logging.Handler):
    """Records as single lines, ``[warning] message`` (``[info] name: message`` below warnings)."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = record.levelname.lower()
            origin = "" if record.levelno >= logging.WARNING else f"{record.name}: "
            text = f"[{level}] {origin}{record.getMessage()}"
            self._console.print(text, markup=False, highlight=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


class PlainProgress:
    """A progress line (counts, best, time left) for output that is no terminal: a line at the first
    call, then when the counts change (at most every ``min_s``) and at least every ``every_s``. Before
    it, once, the study view's link (``study view: URL``) as soon as the summary has it (the optimizer
    task exists): the view is live while the search runs, as the live view's last line shows it.

    Called with the study's summary as often as the search likes (the live view's callback).
    """

    def __init__(
        self,
        console: Console,
        every_s: float = 10.0,
        min_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console, self._every, self._min, self._clock = console, every_s, min_s, clock
        self._last: float | None = None
        self._counts: dict[str, int] | None = None
        self._linked = False

    def __call__(self, summary: Summary) -> None:
        from hpo.cli._view import progress_line
        from hpo.study import StudyAttr

        url = summary.attrs.get(StudyAttr.OPTIMIZER_URL)
        if url and not self._linked:
            self._linked = True
            self._console.print(f"study view: {url}", markup=False, highlight=False, soft_wrap=True)
        now = self._clock()
        changed = summary.counts != self._counts
        if self._last is not None:
            waited = now - self._last
            if waited < self._min or (waited < self._every and not changed):
                return
        self._last, self._counts = now, dict(summary.counts)
        self._console.print(progress_line(summary), markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def live_view(console: Console) -> Iterator[Callable[[RenderableType], None]]:
    """A view redrawn in place on a terminal (Rich's ``Live``); yields its update function.

    On exit the view is erased whole before Live stops: Live draws its last frame in full even when it
    is taller than the terminal, and the part that scrolls off could not be erased, so the final table
    printed after it would show twice.
    """
    live = Live(console=console, refresh_per_second=4, transient=True, redirect_stdout=False, redirect_stderr=False)
    live.start()
    try:
        yield live.update
    finally:
        live.update(Text(""), refresh=True)
        live.stop()


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
    to_terminal = (
        RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
        if console.is_terminal
        else _Plain(console)  # a CI log or a pipe: one line a record, not columns wrapped at 80
    )
    to_terminal.setLevel(logging.INFO if verbose else logging.WARNING)
    to_terminal.addFilter(lambda record: not _is_step(record))  # shown by steps
    if not verbose:
        to_terminal.addFilter(_Ours())
    steps = _Steps(console)
    root, sdk = logging.getLogger(), _sdk_logger()
    saved = (root.level, list(root.handlers), sdk.level, list(sdk.handlers))
    quiet = {name: logging.getLogger(name).level for name in QUIET}
    debug = root.level == logging.DEBUG  # --debug keeps its own stderr handler as it is
    if not debug:
        root.handlers = []
    root.addHandler(to_file)
    root.addHandler(to_terminal)
    root.addHandler(steps)
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


__all__ = ["STDOUT_LOGGER", "PlainProgress", "live_view", "search_logging"]
