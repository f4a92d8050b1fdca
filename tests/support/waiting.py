"""Polling for a condition in tests, without turning a bug into a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    condition: Callable[[], object],
    timeout: float = 120.0,
    interval: float = 0.5,
    expected: tuple[type[BaseException], ...] = (),
    what: str = "the condition",
) -> None:
    """Poll ``condition`` until it returns a truthy value.

    Args:
        condition: Called every ``interval`` seconds.
        timeout: Seconds before giving up with an ``AssertionError``.
        interval: Seconds between calls.
        expected: Exceptions that mean "not yet" (say, ``KeyError`` while a study does not exist);
            any other exception is raised at once, so that a typo fails as itself and not as a timeout.
        what: Named in the timeout message.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            if condition():
                return
        except expected as err:
            last = err
        if time.monotonic() >= deadline:
            detail = f" (last: {type(last).__name__}: {last})" if last else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")
        time.sleep(interval)
