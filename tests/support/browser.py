"""The browser tiers' chromium: Debian's, on PATH, headless, driven by Playwright (which installs nothing).

The ``browser`` fixture (``tests/conftest.py``, one a module) launches it with :func:`launch_chromium`.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE_TIMEOUT_MS = 60_000  # a loaded CI machine renders slowly; nothing waits this long on purpose


@contextlib.contextmanager
def launch_chromium() -> Iterator[Any]:
    """A Playwright ``Browser`` on the ``chromium`` on PATH, closed at the end; fails the test without one."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("no chromium on PATH; install Debian's: apt-get update && apt-get install -y chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, width: int = 1400, height: int = 900) -> Any:
    """A page in a fresh context (its own cookies) of ``width`` x ``height``, waiting up to a minute."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    return page
