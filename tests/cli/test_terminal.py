"""What the terminal says, as pure units: one number format, short ids at 80 columns, plain progress lines
when there is no terminal, setup steps as lines, and messages that name the command or field to fix."""

from __future__ import annotations

import io
import logging
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hpo import local_server
from hpo.cli import _format, _view
from hpo.cli._common import interrupt_exit_code, run
from hpo.cli._logs import PlainProgress, live_view, search_logging
from hpo.errors import ConfigError
from hpo.search import load_space
from hpo.study import Summary
from hpo.study._rdb import open_rdb

TASK_ID = "3f2a9c1be4d54f0a8e7b6c5d4e3f2a1b"  # ClearML's 32-character ids


def _summary(**fields: Any) -> Summary:
    counts = {"queued": 2, "running": 2, "completed": 5, "pruned": 1, "failed": 1, "stopped": 0, "duplicate": 0}
    params = {"General/alpha": 0.012345, "General/ngram_max": 2, "General/max_features": 20000, "General/lower": "true"}
    rows = [
        {"number": n, "value": 0.8312345 - n / 100, "params": params, "queue": "hpo-local", "task_id": f"{n}{TASK_ID}"}
        for n in range(5)
    ]
    active = [
        {"number": 7 + n, "state": "running", "task_id": f"{n}{TASK_ID}", "queue": "hpo-local", "iteration": 3}
        | {"value": 0.81234, "started": 1000.0, "params": {}}
        for n in range(2)
    ]
    base: dict[str, Any] = {
        "study": "tfidf-12",
        "state": "running",
        "budget": 20,
        "counts": counts,
        "best_value": 0.8312345,
        "best_params": params,
        "best_task_id": f"0{TASK_ID}",
        "elapsed_s": 75.0,
        "eta_s": 200.0,
        "objectives": [["cv", "accuracy", "max"]],
        "top": rows,
        "active": active,
        "attrs": {},
        "best_number": 0,
    }
    base.update(fields)
    return Summary(**base)


def _render(renderable: Any, width: int = 80) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue().splitlines()


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.8312345, "0.8312"), (1.23456e-5, "1.235e-05"), (12345.678, "1.235e+04"), (3, "3"), (None, "-")],
)
def test_number_has_four_significant_digits_everywhere(value: Any, shown: str) -> None:
    assert _format.number(value) == shown


def test_short_id_is_the_first_eight_characters() -> None:
    assert _format.short_id(TASK_ID) == "3f2a9c1b" and _format.short_id(None) == "-"


def test_the_live_view_and_top_table_fit_80_columns_with_whole_short_ids() -> None:
    summary = _summary()
    lines = _render(_view.live_view(summary, "/home/user/.hpo/logs/search-20261203-194301-12345.log"))
    lines += _render(_view.top_table(summary))
    assert max(len(line) for line in lines) <= 80
    for n in range(5):  # each trial's short id on one line, never folded over several
        short = f"{n}{TASK_ID}"[:8]
        assert any(short in line for line in lines), short
        assert not any(f"{n}{TASK_ID}"[:9] in line for line in lines)
    assert not any("…" in line for line in lines), "a clipped column"
    assert any("│      0.8312 │" in line for line in lines), "the objective column shows 4 significant digits"


def test_studies_and_the_view_print_the_same_number() -> None:
    shown = "\n".join(_render(_view.status_line(_summary()), width=200))
    assert "0.8312" in shown and "0.83123" not in shown


def test_progress_line_says_counts_best_and_time_left() -> None:
    line = _view.progress_line(_summary())
    assert line == (
        "tfidf-12 [running] 7/20 done (2 running, 2 queued, 1 pruned, 1 failed);"
        " best cv/accuracy 0.8312 (trial 0); elapsed 1:15, left ~3:20"
    )
    empty = _view.progress_line(
        _summary(counts={"queued": 1}, best_value=None, best_number=None, eta_s=None, elapsed_s=3.0)
    )
    assert empty == "tfidf-12 [running] 0/20 done (0 running, 1 queued); no completed trial yet; elapsed 0:03"


def test_plain_progress_prints_at_most_every_few_seconds_and_at_least_every_ten() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = PlainProgress(Console(file=out, width=80), every_s=10.0, min_s=3.0, clock=lambda: now[0])
    same, ended = _summary(), _summary(counts={"completed": 6, "running": 1, "queued": 2})
    for t, summary in [(0.0, same), (0.5, same), (1.0, ended), (3.5, ended), (9.0, ended), (13.6, ended)]:
        now[0] = t
        progress(summary)
    lines = out.getvalue().splitlines()
    # t=0 the first; t=1 ended a trial but only 1 s passed; t=3.5 shows it; t=9 nothing new; t=13.6: 10 s on
    assert len(lines) == 3, lines
    assert lines[0].startswith("tfidf-12 [running] 7/20 done") and lines[1].startswith("tfidf-12 [running] 6/20")


def test_setup_steps_are_plain_lines_and_other_info_stays_in_the_log(tmp_path: Path) -> None:
    out = io.StringIO()
    with search_logging(tmp_path / "search.log", Console(file=out, width=80, color_system=None)):
        logging.getLogger("hpo.search._controller").info("started 2 local agent(s) on hpo-local", extra={"step": True})
        logging.getLogger("hpo.search._controller").info("an ordinary detail")
    assert out.getvalue().splitlines() == ["started 2 local agent(s) on hpo-local"]
    assert "an ordinary detail" in (tmp_path / "search.log").read_text()


def test_warnings_in_a_log_that_is_no_terminal_are_single_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    said = "launching trial 3 failed: " + "x" * 100
    with search_logging(tmp_path / "search.log", Console(file=out, width=80, color_system=None)):
        logging.getLogger("hpo.search._strategy").warning(said)
    assert out.getvalue().splitlines() == [f"[warning] {said}"]


def test_a_taken_server_port_names_the_command_that_picks_another() -> None:
    from hpo.errors import ServerError
    from hpo.server._serve import bind

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(ServerError, match=r"another process listens there: run `hpo server start --port N`"):
            bind("127.0.0.1", holder.getsockname()[1])


def test_a_server_that_cannot_have_8008_says_so_when_it_starts(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", 8008))
        holder.listen()
    except OSError:
        pass  # another program (another test's server) has it: taken either way
    out = io.StringIO()
    try:
        with search_logging(tmp_path / "search.log", Console(file=out, width=200, color_system=None)):
            server, new = local_server.start(tmp_path / "server")
        assert new and server.port != 8008
        lines = out.getvalue().splitlines()
        assert lines[0].startswith("starting the embedded server"), lines
        assert lines[1] == (
            f"embedded server started on port {server.port} (port 8008 on 127.0.0.1 is taken by another program):"
            f" {server.url}"
        )
    finally:
        holder.close()
        local_server.stop(tmp_path / "server")


@pytest.mark.parametrize(("interrupt", "code"), [(KeyboardInterrupt(), 130), (KeyboardInterrupt("SIGTERM"), 143)])
def test_an_interrupt_before_the_search_runs_exits_130_or_143(
    interrupt: KeyboardInterrupt, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    def work() -> None:
        raise interrupt

    assert interrupt_exit_code(str(interrupt)) == code
    with pytest.raises(SystemExit) as ended:
        run(work)
    assert ended.value.code == code
    assert f"interrupted ({str(interrupt) or 'Ctrl-C'})" in capsys.readouterr().err


def test_a_challenger_names_the_command_that_would_replace_the_champion() -> None:
    why = "cv/accuracy 0.8 does not beat champion m1's cv/accuracy 0.9"
    reason = f"stays a challenger: {why}; pass --force to replace it"
    lines = _format.promotion_lines("m2", False, reason, "tfidf 3")
    assert lines == [
        f"model m2 is a challenger, the champion stays: {why}",
        "to make it the champion anyway: hpo promote 'tfidf 3' --force",
    ]
    assert _format.promotion_lines("m2", True, "no champion yet: it becomes the champion", "tfidf-3") == [
        "model m2 promoted to champion (no champion yet: it becomes the champion)"
    ]


SPACE = """
template: curve
objective: {title: validation, series: score, direction: max}
parameters:
  General/alpah: {type: float, low: 0.0, high: 1.0}
initial:
  - {General/alpha: 0.5}
"""


def test_a_typo_in_a_parameter_name_is_blamed_on_the_parameter(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    with pytest.raises(ConfigError) as err:
        load_space(str(path))
    said = str(err.value)
    assert said.startswith(f"{path}: parameters.General/alpah: initial[0] sets 'General/alpha'"), said
    path.write_text(SPACE.replace("General/alpha", "General/beta"))  # nothing alike: the entry is wrong
    with pytest.raises(ConfigError, match=r"initial\[0\]\.General/beta: not a parameter of this space; name one of"):
        load_space(str(path))


def test_a_bad_sqlite_path_gets_file_advice_not_database_server_advice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing/folder/studies.db"
    with pytest.raises(ConfigError) as err:
        open_rdb(url)
    said = str(err.value)
    assert f"check that the folder {tmp_path}/missing/folder exists and is writable" in said, said
    assert "database server" not in said and "password" not in said.split("; ", 1)[1].split(", or ")[0]


class _Screen:
    """What a terminal of ``height`` rows keeps of Rich's output: text, newlines, carriage returns, and the
    cursor-up and erase-line codes Live redraws with; the cursor cannot go above the screen's top row."""

    def __init__(self, height: int) -> None:
        self.lines, self.row, self.col, self.height = [""], 0, 0, height

    def feed(self, data: str) -> str:
        i = 0
        while i < len(data):
            code = re.match(r"\x1b\[\??(\d*)([A-Za-z])", data[i:])
            if code:
                if code.group(2) == "A":
                    self.row = max(self.row - int(code.group(1) or 1), len(self.lines) - self.height, 0)
                elif code.group(2) == "K":
                    self.lines[self.row] = ""
                i += len(code.group(0))
                continue
            if data[i] == "\r":
                self.col = 0
            elif data[i] == "\n":
                self.row, self.col = self.row + 1, 0
                if self.row == len(self.lines):
                    self.lines.append("")
            else:
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = line[: self.col] + data[i] + line[self.col + 1 :]
                self.col += 1
            i += 1
        return "\n".join(self.lines)


def test_a_live_view_taller_than_the_terminal_leaves_only_the_final_table(tmp_path: Path) -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=80, height=24, color_system=None)
    summary = _summary()  # its live view is about 35 lines: taller than 24
    with live_view(terminal) as update:
        update(_view.live_view(summary))
        time.sleep(0.6)  # drawn by Live's refresh thread (4 a second)
    terminal.print(_view.top_table(summary))
    screen = _Screen(24).feed(out.getvalue())
    assert screen.count("top trials of") == 1, screen
    assert "elapsed" not in screen and "running trials" not in screen, screen


def test_hpo_studies_prints_the_best_value_as_every_command_does(tmp_path: Path) -> None:
    import optuna
    from typer.testing import CliRunner

    from hpo.cli import app
    from hpo.study import StudyAttr, TrialAttr, open_storage

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(storage=open_storage(url), study_name="tfidf-3", direction="maximize")
    for key, value in ((StudyAttr.STARTED, 1.0), (StudyAttr.BUDGET, 4), (StudyAttr.STATE, "finished")):
        study.set_user_attr(key, value)
    trial = study.ask()
    trial.set_user_attr(TrialAttr.TASK_ID, TASK_ID)
    study.tell(trial, 0.8312345678901234)
    shown = CliRunner().invoke(app, ["studies", "--storage", url])
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if "tfidf-3" in line)
    assert "0.8312" in row and "0.83123" not in row and TASK_ID[:8] in row and TASK_ID[:9] not in row, row


def test_hpo_best_evidence_of_a_kept_challenger_names_the_promote_command() -> None:
    from hpo.cli.promote import evidence_line

    evidence = {
        "decision": "keep",
        "rule": "corrected-t",
        "reason": "stays a challenger: no candidate surely beats champion m1 on the same folds (...);"
        " pass --force to replace it",
    }
    assert evidence_line(evidence, "tfidf-3") == (
        "keep (corrected-t): stays a challenger: no candidate surely beats champion m1 on the same folds (...);"
        " `hpo promote tfidf-3 --force` replaces it"
    )
    assert evidence_line(evidence).endswith("; pass --force to replace it")  # no study tag: as recorded
