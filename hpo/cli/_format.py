"""How every command writes numbers, durations, ids and promotion outcomes: one format, used everywhere.

- a number has 4 significant digits (``0.8312``, ``1.235e-05``); integers and text stay as they are;
- a duration is ``m:ss``, or ``h:mm:ss`` from an hour on;
- an id is shortened to its first 8 characters where a table or the live view must fit 80 columns
  (as git shortens commit hashes); ``--json`` and the lines a user copies keep it whole;
- a promotion says what became of the model and, when the champion stayed, the exact command that
  would replace it.
"""

from __future__ import annotations

import shlex
from typing import Any

SHORT_ID = 8
DIGITS = 4
_CHALLENGER = "stays a challenger: "
_FORCE_HINT = "; pass --force to replace it"


def number(value: Any) -> str:
    """``0.8312``: a float with 4 significant digits; ``-`` for None; lists joined; anything else as text."""
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(number(v) for v in value)
    if isinstance(value, float):
        return f"{value:.{DIGITS}g}"
    return str(value)


def duration(seconds: float | None) -> str:
    """``1:05`` (minutes), ``2:03:04`` (hours); ``-`` when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def short_id(task_id: str | None) -> str:
    """The first 8 characters of an id (``-`` for none), enough to tell a study's tasks apart."""
    return task_id[:SHORT_ID] if task_id else "-"


def promotion_lines(model_id: str, champion: bool, reason: str, study: str) -> list[str]:
    """What a promotion did, in words that name the next command.

    ``model M promoted to champion (beats champion C: ...)``, or for a model that did not take the title
    ``model M is a challenger (champion C stays): ...`` followed by the command that would replace
    the champion anyway (``hpo promote STUDY --force``).
    """
    if champion:
        return [f"model {model_id} promoted to champion ({reason})"]
    why = reason.removeprefix(_CHALLENGER).removesuffix(_FORCE_HINT)
    return [
        f"model {model_id} is a challenger, the champion stays: {why}",
        f"to make it the champion anyway: hpo promote {shlex.quote(study)} --force",
    ]


def with_force_command(reason: str, study: str | None) -> str:
    """A promotion's reason whose ``pass --force`` hint names the whole command, when the study is known."""
    if study and reason.endswith(_FORCE_HINT):
        return reason.removesuffix(_FORCE_HINT) + f"; `hpo promote {shlex.quote(study)} --force` replaces it"
    return reason


__all__ = ["DIGITS", "SHORT_ID", "duration", "number", "promotion_lines", "short_id", "with_force_command"]
