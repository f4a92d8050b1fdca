"""Search spaces: a YAML file naming the template, the objective, the parameters and the defaults.

::

    template: tfidf                      # a registered key (``hpo register``), or {task: ID},
                                         # {project: P, name: N} or {script: train.py} (hpo.templates._source)
    objective: {title: validation, series: accuracy, direction: max}   # value: last (default) | min | max
    trials: 20                           # default budget (--trials overrides)
    concurrency: 2                       # default --concurrency
    sampler: tpe                         # or {name: tpe, seed: 1, n_startup_trials: 5}
    pruner: none                         # or {name: median, n_startup_trials: 2, n_warmup_steps: 1}
    queue: gpu                           # optional: pin the template to this queue
    initial: [{General/alpha: 1.0}]      # optional: configurations tried first
    fixed: {General/cv_folds: 5}         # optional: set on every trial, not searched
    parameters:
      General/alpha: {type: log-float, low: 0.001, high: 10}
      General/ngram_max: {type: int, low: 1, high: 3}
      General/analyzer: {type: categorical, choices: [word, char_wb]}
      General/max_df: {type: stepped, low: 0.5, high: 1.0, step: 0.1}
      General/char_max: {type: int, low: 3, high: 6, when: {General/analyzer: char_wb}}

Everything is checked by :func:`load_space` before anything is launched; every error names the
file, the field, the bad value and the fix. :func:`check_template_parameters` checks the
parameter names against the template once it is known.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hpo.errors import ConfigError
from hpo.paths import beside_package
from hpo.search._param import KINDS, Param
from hpo.study import Objective
from hpo.study._objectives import VALUE_RULES
from hpo.templates._source import TemplateSource, parse_source

SAMPLERS = ("tpe", "random", "cmaes", "grid", "nsga2")
PRUNERS = ("none", "median", "asha", "hyperband")
DIRECTIONS = ("min", "max")
_TOP_LEVEL = {
    "template",
    "objective",
    "trials",
    "concurrency",
    "sampler",
    "pruner",
    "queue",
    "initial",
    "fixed",
    "parameters",
    "retries",
    "description",
}


def spaces_dir() -> Path:
    """The ``search_spaces`` folder next to the ``hpo`` package (names like ``tfidf`` resolve there)."""
    return beside_package("search_spaces")


@dataclass(frozen=True)
class Choice:
    """A sampler or pruner: its name and its keyword arguments."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space."""

    path: Path
    name: str
    template: str
    objectives: tuple[Objective, ...]
    params: tuple[Param, ...]
    trials: int = 20
    concurrency: int = 2
    sampler: Choice = Choice("tpe")
    pruner: Choice = Choice("none")
    queue: str | None = None
    retries: int = 0
    initial: tuple[Mapping[str, Any], ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    template_source: TemplateSource | None = None  # a user's run or script (``template: {task: ...}``)

    @property
    def objective(self) -> Objective:
        return self.objectives[0]

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


class _Checker:
    """Builds error messages that name the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {problem}; {fix}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {value!r}", "write `key: value` pairs")
        return value

    def number(self, value: Any, where: str, integer: bool = False) -> float:
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)):
            kind = "an integer" if integer else "a finite number"
            raise self.fail(where, f"expected {kind}, got {value!r}", f"write {kind}")
        return float(value)

    def positive_int(self, value: Any, where: str, minimum: int = 1) -> int:
        number = self.number(value, where, integer=True)
        if number < minimum:
            raise self.fail(where, f"must be at least {minimum}, got {value!r}", f"use a value >= {minimum}")
        return int(number)

    def choice(self, value: Any, where: str, allowed: Sequence[str]) -> Choice:
        options: dict[str, Any] = {}
        if isinstance(value, Mapping):
            options = {str(k): v for k, v in value.items() if k != "name"}
            value = value.get("name")
        if value not in allowed:
            raise self.fail(where, f"unknown value {value!r}", f"choose one of: {', '.join(allowed)}")
        return Choice(str(value), options)


def resolve_path(space: str) -> Path:
    """``tfidf`` means ``search_spaces/tfidf.yaml``; anything else is a path.

    Raises:
        ConfigError: No such file.
    """
    candidate = Path(space).expanduser()
    if candidate.is_file():
        return candidate
    if "/" not in space and not space.endswith((".yaml", ".yml")):
        named = spaces_dir() / f"{space}.yaml"
        if named.is_file():
            return named
    known = sorted(p.stem for p in spaces_dir().glob("*.yaml")) if spaces_dir().is_dir() else []
    raise ConfigError(f"no search space {space!r}: not a file, nor one of {', '.join(known) or 'none'}; pass a path")


def load_space(space: str | Path) -> SearchSpace:
    """Read and validate a search space file (a path, or a name under ``search_spaces/``).

    Raises:
        ConfigError: The file is missing, not YAML, or not a valid search space.
    """
    path = resolve_path(str(space))
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}); fix the syntax") from err
    check = _Checker(path)
    doc = check.mapping(raw, "top level")
    unknown = sorted(set(doc) - _TOP_LEVEL)
    if unknown:
        raise check.fail(unknown[0], "unknown field", f"use only: {', '.join(sorted(_TOP_LEVEL))}")
    template, template_source = _template(check, doc.get("template"))
    params = _params(check, doc.get("parameters"))
    sampler = check.choice(doc.get("sampler", "tpe"), "sampler", SAMPLERS)
    queue = doc.get("queue")
    if queue is not None and (not isinstance(queue, str) or not queue.strip()):
        raise check.fail("queue", f"expected a queue name, got {queue!r}", "write e.g. `queue: gpu` or remove it")
    result = SearchSpace(
        path=path,
        name=path.stem,
        template=template,
        template_source=template_source,
        objectives=_objectives(check, doc.get("objective")),
        params=params,
        trials=check.positive_int(doc.get("trials", 20), "trials"),
        concurrency=check.positive_int(doc.get("concurrency", 2), "concurrency"),
        sampler=sampler,
        pruner=check.choice(doc.get("pruner", "none"), "pruner", PRUNERS),
        queue=queue,
        retries=check.positive_int(doc.get("retries", 0), "retries", minimum=0),
        initial=_initial(check, doc.get("initial"), params),
        fixed=_fixed(check, doc.get("fixed"), params),
    )
    check_combination(result)
    return result


def _template(check: _Checker, value: Any) -> tuple[str, TemplateSource | None]:
    """A registered key, or a reference to a user's run or script (see :mod:`hpo.templates._source`)."""
    if isinstance(value, Mapping):
        source = parse_source(value, f"{check.path}: template", check.path.parent)
        return source.key, source
    if not isinstance(value, str) or not value.strip():
        fix = "write e.g. `template: tfidf`, `template: {task: <run id>}` or `template: {script: train.py}`"
        raise check.fail("template", f"expected a template key or reference, got {value!r}", fix)
    return value.strip(), None


def _objectives(check: _Checker, value: Any) -> tuple[Objective, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or value is None:
        fix = "write `objective: {title: validation, series: accuracy, direction: max}`"
        raise check.fail("objective", "missing", fix)
    out = []
    for index, item in enumerate(items):
        where = "objective" if len(items) == 1 else f"objective[{index}]"
        spec = check.mapping(item, where)
        for key in ("title", "series"):
            if not isinstance(spec.get(key), str) or not spec[key]:
                raise check.fail(
                    f"{where}.{key}",
                    f"expected the reported scalar's {key}, got {spec.get(key)!r}",
                    f"write e.g. `{key}: {'validation' if key == 'title' else 'accuracy'}`",
                )
        direction = spec.get("direction", "max")
        if direction not in DIRECTIONS:
            raise check.fail(f"{where}.direction", f"unknown value {direction!r}", "write `min` or `max`")
        rule = spec.get("value", "last")
        if rule not in VALUE_RULES:
            fix = "write `last` (the last report), `min` or `max` (the smallest or largest of all reports)"
            raise check.fail(f"{where}.value", f"unknown value {rule!r}", fix)
        extra = sorted(set(spec) - {"title", "series", "direction", "value"})
        if extra:
            raise check.fail(
                f"{where}.{extra[0]}", "not a field of an objective", "use only title, series, direction, value"
            )
        out.append(Objective(spec["title"], spec["series"], direction, rule))
    return tuple(out)


def _params(check: _Checker, value: Any) -> tuple[Param, ...]:
    spec = check.mapping(value, "parameters")
    if not spec:
        raise check.fail("parameters", "empty", "name at least one parameter, e.g. `General/alpha: {type: float, ...}`")
    params = [_param(check, str(name), item) for name, item in spec.items()]
    for index, param in enumerate(params):
        earlier = {p.name for p in params[:index]}
        for other, values in param.when.items():
            where = f"parameters.{param.name}.when.{other}"
            if other not in earlier:
                raise check.fail(
                    where, f"{other!r} is not a parameter listed before this one", "condition on a parameter above it"
                )
            parent = next(p for p in params if p.name == other)
            if parent.kind != "categorical":
                raise check.fail(where, f"{other!r} is {parent.kind}", "condition only on categorical parameters")
            bad = [v for v in values if v not in parent.choices]
            if bad:
                raise check.fail(where, f"{bad[0]!r} is not one of its choices {list(parent.choices)}", "fix the value")
    return tuple(params)


def _param(check: _Checker, name: str, value: Any) -> Param:
    where = f"parameters.{name}"
    if "/" not in name:
        raise check.fail(where, f"{name!r} has no section", f"use the full ClearML name, e.g. `General/{name}`")
    spec = check.mapping(value, where)
    kind = spec.get("type")
    if kind not in KINDS:
        raise check.fail(f"{where}.type", f"unknown type {kind!r}", f"choose one of: {', '.join(KINDS)}")
    allowed = {"type", "when"} | ({"choices"} if kind == "categorical" else {"low", "high", "step"})
    extra = sorted(set(spec) - allowed)
    if extra:
        fix = f"use only: {', '.join(sorted(allowed))}"
        raise check.fail(f"{where}.{extra[0]}", f"not a field of a {kind} parameter", fix)
    when = _when(check, spec.get("when"), where)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise check.fail(f"{where}.choices", f"expected a non-empty list, got {choices!r}", "list the values")
        if len({repr(c) for c in choices}) != len(choices):
            raise check.fail(f"{where}.choices", f"duplicate values in {choices!r}", "list each value once")
        if any(not isinstance(c, (str, int, float, bool)) for c in choices):
            problem = f"only plain values are allowed, got {choices!r}"
            raise check.fail(f"{where}.choices", problem, "use strings or numbers")
        return Param(name, kind, choices=tuple(choices), when=when)
    integer = kind in ("int", "log-int")
    low = check.number(spec.get("low"), f"{where}.low", integer)
    high = check.number(spec.get("high"), f"{where}.high", integer)
    if low >= high:
        raise check.fail(where, f"low >= high (low={spec.get('low')!r}, high={spec.get('high')!r})", "make low < high")
    if kind.startswith("log-") and low <= 0:
        raise check.fail(f"{where}.low", f"a {kind} range must be positive, got low={spec.get('low')!r}", "use low > 0")
    step: float | None = None
    if kind == "stepped" or "step" in spec:
        if kind in ("float", "log-float", "log-int"):
            raise check.fail(f"{where}.step", f"a {kind} parameter has no step", "use `type: stepped` or drop step")
        step = check.number(spec.get("step"), f"{where}.step", integer)
        if step <= 0 or step > high - low:
            raise check.fail(f"{where}.step", f"must be in (0, high - low], got {spec.get('step')!r}", "fix the step")
    return Param(name, kind, low=low, high=high, step=step, when=when)


def _when(check: _Checker, value: Any, where: str) -> dict[str, tuple[Any, ...]]:
    if value is None:
        return {}
    spec = check.mapping(value, f"{where}.when")
    return {str(k): tuple(v) if isinstance(v, list) else (v,) for k, v in spec.items()}


def _initial(check: _Checker, value: Any, params: Sequence[Param]) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise check.fail("initial", f"expected a list of configurations, got {value!r}", "write `initial: [{...}]`")
    names = {p.name for p in params}
    out = []
    for index, item in enumerate(value):
        config = check.mapping(item, f"initial[{index}]")
        unknown = sorted(set(config) - names)
        if unknown:
            raise _unknown_initial(check, f"initial[{index}]", unknown[0], names, set(config))
        out.append(dict(config))
    return tuple(out)


def _unknown_initial(check: _Checker, where: str, name: str, names: set[str], given: set[str]) -> ConfigError:
    """An ``initial`` name no parameter has: blamed on the parameter it is a near spelling of (the typo is
    more likely in ``parameters``, written once, than in the configurations that repeat the right name)."""
    near = difflib.get_close_matches(name, sorted(names - given), n=1, cutoff=0.75)
    if near:
        return check.fail(
            f"parameters.{near[0]}",
            f"{where} sets {name!r}, which no parameter is named (a typo of one of the two?)",
            f"spell the parameter and {where}'s key alike",
        )
    return check.fail(f"{where}.{name}", "not a parameter of this space", f"name one of: {', '.join(sorted(names))}")


def _fixed(check: _Checker, value: Any, params: Sequence[Param]) -> dict[str, Any]:
    if value is None:
        return {}
    fixed = dict(check.mapping(value, "fixed"))
    for name, setting in fixed.items():
        if any(p.name == name for p in params):
            raise check.fail(f"fixed.{name}", "is also a searched parameter", "keep it in one of the two")
        if isinstance(setting, (dict, list)) or setting is None:
            raise check.fail(f"fixed.{name}", f"expected one plain value, got {setting!r}", "write e.g. `8` or `word`")
    return fixed


def check_combination(space: SearchSpace) -> None:
    """Checks across fields: samplers and pruners that cannot serve this space.

    Raises:
        ConfigError: The combination cannot work.
    """
    check = _Checker(space.path)
    if space.sampler.name == "grid":
        continuous = [p.name for p in space.params if p.continuous]
        if continuous:
            raise check.fail(
                f"parameters.{continuous[0]}",
                "the grid sampler needs discrete parameters",
                "use int, stepped or categorical types, or another sampler",
            )
        if any(p.when for p in space.params):
            raise check.fail("sampler", "the grid sampler cannot serve conditional parameters", "drop `when:`")
    if space.sampler.name == "cmaes" and len(space.objectives) > 1:
        raise check.fail("sampler", "cmaes optimises one objective", "use nsga2 for several objectives")
    if len(space.objectives) > 1 and space.pruner.name != "none":
        raise check.fail("pruner", "pruning needs a single objective", "set `pruner: none`")


def check_template_parameters(space: SearchSpace, template_params: Mapping[str, Any]) -> None:
    """Every searched or fixed parameter must exist on the template (a typo would otherwise search nothing).

    Raises:
        ConfigError: A parameter the template does not have.
    """
    missing = [f"parameters.{p.name}" for p in space.params if p.name not in template_params]
    missing += [f"fixed.{name}" for name in space.fixed if name not in template_params]
    if missing:
        have = ", ".join(sorted(template_params)) or "none"
        raise ConfigError(
            f"{space.path}: {missing[0]}: template {space.template!r} has no such parameter;"
            f" use one of its parameters: {have}"
        )


def with_overrides(space: SearchSpace, **changes: Any) -> SearchSpace:
    """The space with command-line overrides (``None`` values are ignored), re-validated."""
    from dataclasses import replace

    values = {k: v for k, v in changes.items() if v is not None}
    if "sampler" in values and isinstance(values["sampler"], str):
        values["sampler"] = Choice(values["sampler"]) if values["sampler"] != space.sampler.name else space.sampler
    if "pruner" in values and isinstance(values["pruner"], str):
        values["pruner"] = Choice(values["pruner"]) if values["pruner"] != space.pruner.name else space.pruner
    for key, allowed in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        if key in values and values[key].name not in allowed:
            raise ConfigError(f"--{key} {values[key].name!r} is unknown; choose one of: {', '.join(allowed)}")
    for key in ("trials", "concurrency"):
        if key in values and values[key] < 1:
            raise ConfigError(f"--{key} must be at least 1, got {values[key]}")
    if "retries" in values and values["retries"] < 0:
        raise ConfigError(f"--retries must be at least 0, got {values['retries']}")
    updated = replace(space, **values)
    check_combination(updated)
    return updated


__all__ = [
    "KINDS",
    "PRUNERS",
    "SAMPLERS",
    "Choice",
    "Param",
    "SearchSpace",
    "check_template_parameters",
    "load_space",
    "resolve_path",
    "spaces_dir",
    "with_overrides",
]
