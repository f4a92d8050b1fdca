"""What every command shares: the console, error reporting, the ``--debug`` switch and common options."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from hpo.errors import HPOError
from hpo.paths import storage_error

# Options several commands take (help texts escape "[" so Rich does not read "[default: ...]" as markup).
ApiHostOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option("--api-host", help="ClearML API server \\[default: env, clearml.conf, else the embedded server]."),
]
StorageOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--storage", help="Optuna storage URL \\[default: $HPO_STORAGE, else sqlite under $HPO_HOME]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

console = Console()
err_console = Console(stderr=True)

SIGTERM = "SIGTERM"  # the reason a SIGTERM turned into KeyboardInterrupt carries (see sigterm_as_interrupt)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


def sigterm_as_interrupt() -> None:
    """Make SIGTERM clean up like Ctrl-C (a ``KeyboardInterrupt`` whose message is ``SIGTERM``)."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(SIGTERM)

    signal.signal(signal.SIGTERM, handler)


def interrupt_exit_code(reason: str | None) -> int:
    """143 after SIGTERM, 130 after Ctrl-C (any other interrupt), as shells and supervisors expect."""
    return EXIT_TERMINATED if reason == SIGTERM else EXIT_INTERRUPTED


F = TypeVar("F", bound=Callable[..., Any])

_debug = False


def set_debug(value: bool) -> None:
    global _debug
    _debug = value
    logging.basicConfig(
        level=logging.DEBUG if value else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@contextlib.contextmanager
def sdk_output_to_stderr() -> Iterator[None]:
    """Send what the ClearML SDK prints (links, progress bars) to stderr, keeping stdout for results."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def run(work: Callable[[], Any]) -> Any:
    """Run a command's work, turning suite errors into ``[error] ...`` and exit code 1.

    An OSError of a full disk or a folder that cannot be written (``hpo.paths.storage_error``) is
    such an error too; any other OSError is a bug and keeps its traceback.
    """
    try:
        try:
            return work()
        except OSError as err:
            reason = storage_error(err)
            if reason is None:
                raise
            raise reason from err
    except HPOError as err:
        if _debug:
            err_console.print_exception()
        # soft_wrap: no newlines inserted, so a path or command in the message stays whole to copy
        err_console.print(f"[red]\\[error][/red] {escape(str(err))}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt as err:
        err_console.print(f"[yellow]interrupted[/yellow] ({str(err) or 'Ctrl-C'})")
        sys.exit(interrupt_exit_code(str(err)))
