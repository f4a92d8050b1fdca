"""``hpo space init``: a commented search space written from what a run recorded.

Every argument of the run is listed with its recorded value: positive floats as ``log-float`` over
a factor of 10 each way, ints around the value, bools and short words as ``categorical``, other
strings under ``fixed:``. The run's reported metrics are objective candidates (comments, with last,
min and max); the first with a recognisable name is chosen and its direction is guessed from that
name. The space runs as written; the comments say what to tighten.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from hpo.templates._introspect import HYDRA_EDIT, Argument, Metric, RunInfo

_MAXIMISE = ("acc", "f1", "auc", "precision", "recall", "score", "r2", "map", "iou", "bleu")
_MINIMISE = ("loss", "error", "err", "mse", "mae", "rmse", "perplexity")
_WORD = re.compile(r"^[A-Za-z_][\w.-]{0,23}$")  # a short word: one of a few values (``rbf``, ``adam``)
_SKIPPED_SECTIONS = ("properties",)  # user properties: shown by ClearML, never read by the script


def guess_direction(metric: Metric) -> str | None:
    """``max`` for accuracy-like names, ``min`` for loss-like names, None when the name says neither."""
    name = f"{metric.title} {metric.series}".lower()
    if any(word in name for word in _MINIMISE):
        return "min"
    if any(word in name for word in _MAXIMISE):
        return "max"
    return None


def _number(value: float) -> str:
    """A float as YAML 1.1 reads it back as a float (PyYAML needs a dot in ``1.0e-05``)."""
    text = f"{value:.6g}"
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    elif "." not in text and "e" not in text and "inf" not in text and "nan" not in text:
        text += ".0"
    return text


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][\w./-]*", name) else json.dumps(name)


def typed(argument: Argument) -> Any:
    """An argument's value in its recorded type (a YAML reading of the text when no type is recorded)."""
    text, kind = argument.value, argument.type.lower()
    try:
        if kind == "float":
            return float(text)
        if kind == "int":
            return int(text)
    except ValueError:
        pass
    if kind == "bool":
        return text.strip().lower() == "true"
    if kind == "str" or not text:
        return text
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.strip().lower(), text)


def _parameter(name: str, value: Any) -> tuple[str, str] | None:
    """``(YAML flow mapping, comment)`` of a searched parameter, None when it belongs under ``fixed:``."""
    shown = f"recorded {_scalar(value)}"
    if isinstance(value, bool):
        return f"{{type: categorical, choices: [{_scalar(value)}, {_scalar(not value)}]}}", shown
    if isinstance(value, int):
        low, high = (max(1, value // 2), max(value * 2, 2)) if value > 0 else (value * 2 - 1, value // 2 + 1)
        return f"{{type: int, low: {low}, high: {high}}}", f"{shown}; tighten to what makes sense"
    if isinstance(value, float) and math.isfinite(value):
        if value > 0:
            spec = f"{{type: log-float, low: {_number(value / 10)}, high: {_number(value * 10)}}}"
            return spec, f"{shown}; a factor of 10 each way: tighten it"
        ends = (0.0, 1.0) if value == 0 else (value * 10, value / 10)
        return f"{{type: float, low: {_number(ends[0])}, high: {_number(ends[1])}}}", f"{shown}; tighten it"
    if isinstance(value, str) and _WORD.match(value) and value.lower() not in ("none", "null"):
        return f"{{type: categorical, choices: [{_scalar(value)}]}}", f"{shown}; add the other values it takes"
    return None


def _arguments(info: RunInfo) -> dict[str, Any]:
    values: dict[str, Any] = dict(info.hydra)
    searchable = info.searchable()
    for argument in info.arguments:
        skipped = argument.name.split("/", 1)[0] in _SKIPPED_SECTIONS
        if argument.name == HYDRA_EDIT or skipped or argument.name not in searchable:
            continue
        values[argument.name] = typed(argument)
    return values


def _objective_lines(metrics: tuple[Metric, ...]) -> list[str]:
    if not metrics:
        return [
            "# The run reported no scalars: name the one your script reports (Logger.report_scalar).",
            "objective: {title: validation, series: accuracy, direction: max}",
        ]
    chosen = next((m for m in metrics if guess_direction(m)), metrics[0])
    lines = ["# Objective candidates (what the run reported: last / min / max, iterations):"]
    for m in metrics:
        lines.append(
            f"#   {m.title} / {m.series}: last {_number(m.last)}, min {_number(m.min)}, max {_number(m.max)},"
            f" {m.iterations} iteration(s)"
        )
    direction = guess_direction(chosen)
    note = "a guess from its name: check it" if direction else "its name says nothing: set min or max"
    title, series = json.dumps(chosen.title), json.dumps(chosen.series)
    lines.append(
        f"objective: {{title: {title}, series: {series}, direction: {direction or 'max'}}}  # direction: {note}"
    )
    if chosen.iterations > 1:
        lines.append("pruner: none  # it reports every iteration: median, asha or hyperband can stop bad trials early")
    else:
        lines.append("pruner: none  # reported at one iteration only: nothing to prune")
    return lines


def space_yaml(info: RunInfo, template: Mapping[str, str]) -> str:
    """The YAML text of a space searching every argument of ``info`` (see the module docstring)."""
    reference = ", ".join(f"{k}: {json.dumps(v)}" for k, v in template.items())
    lines = [
        f"# Search space written by `hpo space init` from run {info.id} ({info.name!r}, project {info.project!r}).",
        "# It runs as written (`hpo search THIS_FILE`); tighten the ranges, drop what you do not want searched.",
        f"template: {{{reference}}}",
        *_objective_lines(info.metrics),
        "trials: 10",
        "concurrency: 2",
        "sampler: tpe",
        "parameters:",
    ]
    fixed: list[str] = []
    for name, value in _arguments(info).items():
        if value == "" or value is None:
            fixed.append(f"  # {_key(name)}: (empty in the run: not searched)")
            continue
        spec = _parameter(name, value)
        if spec is None:
            fixed.append(f"  {_key(name)}: {_scalar(value)}  # as recorded; move it to parameters: to search it")
        else:
            lines.append(f"  {_key(name)}: {spec[0]}  # {spec[1]}")
    if fixed:
        lines += ["fixed:", *fixed] if any(not f.lstrip().startswith("#") for f in fixed) else fixed
    if info.configurations:
        names = ", ".join(info.configurations)
        lines.append(f"# Configuration objects ({names}) cannot be searched; connect values with task.connect(dict).")
    return "\n".join(lines) + "\n"


__all__ = ["guess_direction", "space_yaml", "typed"]
