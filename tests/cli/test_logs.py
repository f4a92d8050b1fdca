"""During a search the SDK's and optimizer's lines go to its log file; the terminal gets ours, or all with --verbose."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from rich.console import Console

from hpo.cli._logs import search_logging

SDK = "No projects were found with name(s): x"
OPTIMIZER = "Auto Connect optimizer_class disabled"
PRINTED = "Progress report #1 completed"
OURS = "launching trial 3 failed"


def _emit() -> None:
    logging.getLogger("clearml").warning(SDK)
    logging.getLogger("clearml.automation.optimization").warning(OPTIMIZER)
    print(PRINTED)  # what ClearML's optimizer prints from its reporting thread
    logging.getLogger("hpo.search._strategy").warning(OURS)


@pytest.mark.parametrize("verbose", [False, True])
def test_sdk_lines_go_to_the_log_file_and_the_terminal_shows_ours(tmp_path: Path, verbose: bool) -> None:
    terminal = io.StringIO()
    console = Console(file=terminal, width=300, color_system=None)
    log_file = tmp_path / "search.log"
    root, sdk = logging.getLogger(), logging.getLogger("clearml")
    before = (list(root.handlers), root.level)
    with search_logging(log_file, console, verbose=verbose):
        sdk_handlers = list(sdk.handlers)
        _emit()
    written, shown = log_file.read_text(), terminal.getvalue()
    assert all(line in written for line in (SDK, OPTIMIZER, PRINTED, OURS)), written
    assert OURS in shown
    for line in (SDK, OPTIMIZER, PRINTED):
        assert (line in shown) is verbose, shown
    assert (list(root.handlers), root.level) == before  # put back as it was
    assert sdk.handlers != sdk_handlers


def test_a_line_printed_in_pieces_is_logged_once_whole(tmp_path: Path) -> None:
    log_file = tmp_path / "search.log"
    with search_logging(log_file, Console(file=io.StringIO())):
        print("Uploading", end="", flush=True)
        print(" 3 files", end="")
        print()
        print("unterminated", end="")
    lines = [line.split(": ", 1)[1] for line in log_file.read_text().splitlines() if "hpo.search.stdout" in line]
    assert lines == ["Uploading 3 files", "unterminated"]
