"""``hpo search --check``: one canary trial first, and proof that its sampled values reached the code.

The canary clones the template like a trial, with the space's first ``initial:`` entry, else one
sample of the space drawn so that every parameter differs from the template's recorded value
(a value equal to the template's proves nothing: the code would use it anyway). After it ran:

1. it must have completed, and reported every objective (a script whose ``Task.init`` made a new
   task instead of taking over the clone, as in clearml-agent#244, reports nothing on it);
2. every parameter the canary changed must read back, from the task itself, as it was sent. Run by an
   agent, the SDK applies the task's values to ``argparse`` defaults and ``task.connect(dict)``; where it
   does not apply them it writes the value the code holds back into the task: a dict connected with
   ``ignore_remote_overrides=True``, a ``task.set_parameter`` by the script, a run the SDK took for a local
   run (it then records the code's own values);
3. no ``Args/`` parameter may be given on the agent's command line (the ``[dir]$ python ...`` line of the
   task's console) with another value: ``argparse`` takes the command line over the defaults the SDK set.

What it cannot catch (it reads what the task reports, not what the code computes): code that reads an
argument and then uses another value (``args.gamma = 0.01`` after parsing, a constant, an environment
variable, its own config file); an ``argparse`` argument the script excludes with
``Task.init(auto_connect_arg_parser={"gamma": False})`` (the SDK neither applies nor reports it; a
template recorded from a real run never lists such an argument, so the checks before launch refuse it);
parameters the canary left at the template's value (listed as unverified).

:func:`draw_config`, :func:`compare`, :func:`command_line`, :func:`argv_overrides` and
:func:`missing_objectives` are pure; :func:`run_canary` runs the canary on a queue and returns the
:class:`CanaryReport`; :func:`check_canary` is what ``hpo search --check`` calls.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpo import task_status
from hpo.errors import ConfigError
from hpo.search._param import same_text, stored_text
from hpo.search._space import SearchSpace
from hpo.study import Objective, SearchState, StudyAttr

if TYPE_CHECKING:
    from hpo.search._plan import SearchPlan

log = logging.getLogger(__name__)

CANARY_TAG = "hpo-canary"
MAX_DRAWS = 50  # samples tried for one that changes every parameter
CONSOLE_REPORTS = 2000  # console reports read back (the agent's command line is among the first)
_COMMAND = re.compile(r"^\[[^\]\n]*\]\$ (.+)$", re.MULTILINE)  # clearml-agent: print("[{dir}]$ {command}")


@dataclass(frozen=True)
class CanaryConfig:
    """What the canary runs.

    Attributes:
        values: The searched parameters' values (``Section/name`` -> value).
        origin: Where they come from, for the messages.
        verified: Parameters (with ``fixed:`` ones) whose canary value differs from the template's: checked.
        unverified: Parameters whose canary value equals the template's: a run proves nothing about them.
    """

    values: Mapping[str, Any]
    origin: str
    verified: tuple[str, ...]
    unverified: tuple[str, ...]


@dataclass(frozen=True)
class Mismatch:
    """A sampled value that did not reach the code.

    Attributes:
        name: The parameter (``Section/name``).
        sent: The value the canary was given (stored text).
        found: What the task reports instead (None: it no longer has the parameter).
        where: ``parameters`` (read back from the task) or ``command line`` (the agent's argv).
    """

    name: str
    sent: str
    found: str | None
    where: str

    def describe(self) -> str:
        if self.where == "command line":
            return (
                f"{self.name}: the agent's command line passes {self.found}, which argparse takes over the sampled"
                f" {self.sent}"
            )
        if self.found is None:
            return f"{self.name}: sent {self.sent}, and the task no longer has the parameter after its run"
        return f"{self.name}: sent {self.sent}, the task reports {self.found} after its run"


@dataclass
class CanaryReport:
    """What the canary proved.

    Attributes:
        task_id: The canary's task.
        status: Its final status.
        config: What it ran.
        mismatches: Values that did not reach the code.
        missing_objectives: ``title/series`` of objectives it did not report.
        error: Why it did not complete (its status reason and last console lines), if it did not.
    """

    task_id: str
    status: str
    config: CanaryConfig
    mismatches: list[Mismatch] = field(default_factory=list)
    missing_objectives: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.missing_objectives or self.error)

    def message(self) -> str:
        """One paragraph: what failed and the fix, or what was verified."""
        where = f"--check: canary task {self.task_id} ({self.config.origin})"
        if self.error:
            return f"{where} did not complete ({self.status}): {self.error}; fix the script, then run again"
        if self.mismatches:
            names = ", ".join(m.name for m in self.mismatches)
            details = "; ".join(m.describe() for m in self.mismatches)
            return (
                f"{where}: {names} did not reach the code ({details}). Fix: let the script take the value from"
                " the task (no ignore_remote_overrides, no set_parameter over it, no value for it on the command"
                " line), or leave it out of the space's parameters"
            )
        if self.missing_objectives:
            return (
                f"{where} completed without reporting {', '.join(self.missing_objectives)} on its own task. Fix:"
                " report it with Logger.report_scalar(title, series, ...) in the task Task.init returns (a script"
                " that creates another task when run by an agent reports there), or fix the space's objective"
            )
        unverified = f"; unverified (equal to the template's value): {', '.join(self.config.unverified)}"
        return f"{where}: every changed value reached the code ({', '.join(self.config.verified) or 'none'})" + (
            unverified if self.config.unverified else ""
        )


def _differs(value: Any, template_value: Any) -> bool:
    return template_value is None or not same_text(stored_text(value), str(template_value))


def draw_config(space: SearchSpace, template_params: Mapping[str, Any], seed: int | None = None) -> CanaryConfig:
    """The canary's values: the space's first ``initial:`` entry, else the sample (of up to
    ``MAX_DRAWS``, seeded) that changes the most parameters from the template's values."""
    if space.initial:
        values: Mapping[str, Any] = dict(space.initial[0])
        origin = "the space's first initial: entry"
    else:
        values = _most_changed(space, template_params, seed)
        origin = "the template's run with every searched value changed"
    sent = {**space.fixed, **values}
    verified = tuple(name for name, value in sent.items() if _differs(value, template_params.get(name)))
    unverified = tuple(name for name in sent if name not in verified)
    return CanaryConfig(values, origin, verified, unverified)


def _most_changed(space: SearchSpace, template_params: Mapping[str, Any], seed: int | None) -> dict[str, Any]:
    import optuna

    from hpo.search._sampling import suggest

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    best: dict[str, Any] = {}
    best_changed = -1
    for _ in range(MAX_DRAWS):
        values = suggest(study.ask(), space)
        changed = sum(_differs(v, template_params.get(k)) for k, v in values.items())
        if changed > best_changed:
            best, best_changed = values, changed
        if changed == len(values):
            break
    return best


def compare(sent: Mapping[str, str], reported: Mapping[str, Any], names: Sequence[str]) -> list[Mismatch]:
    """The parameters of ``names`` whose value the task reports differently from what was ``sent``."""
    out = []
    for name in names:
        found = reported.get(name)
        if found is None or not same_text(str(found), sent[name]):
            out.append(Mismatch(name, sent[name], None if found is None else str(found), "parameters"))
    return out


def command_line(console: Sequence[str]) -> list[str] | None:
    """The command clearml-agent ran, from its ``[dir]$ command`` console line (None when absent)."""
    for report in console:
        match = _COMMAND.search(report)
        if match:
            try:
                return shlex.split(match.group(1))
            except ValueError:  # unbalanced quotes: take it word by word
                return match.group(1).split()
    return None


def argv_overrides(argv: Sequence[str], sent: Mapping[str, str]) -> list[Mismatch]:
    """``Args/`` parameters the command line gives another value (argparse prefers it to the defaults)."""
    given: dict[str, str] = {}
    for i, word in enumerate(argv):
        if not word.startswith("-") or word in ("-u", "-m", "-c"):
            continue
        option, eq, value = word.lstrip("-").partition("=")
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                continue  # a flag: store_true and the like are not compared
            value = argv[i + 1]
        given[option.replace("-", "_")] = value
    out = []
    for name, value in sent.items():
        section, _, arg = name.partition("/")
        found = given.get(arg.replace("-", "_"))
        if section == "Args" and found is not None and not same_text(found, value):
            out.append(Mismatch(name, value, f"--{arg} {found}", "command line"))
    return out


def missing_objectives(metrics: Mapping[str, Mapping[str, Any]], objectives: Sequence[Objective]) -> list[str]:
    """``title/series`` of the objectives absent from ``metrics`` (``Task.get_last_scalar_metrics()``)."""
    return [f"{o.title}/{o.series}" for o in objectives if o.series not in (metrics.get(o.title) or {})]


def run_canary(
    space: SearchSpace,
    template_id: str,
    queue: str,
    *,
    study_name: str,
    output: Any = None,
    poll_s: float = 1.0,
    seed: int | None = None,
) -> CanaryReport:
    """Clone the template with :func:`draw_config`'s values, run it on ``queue`` and check what came back.

    ``output`` is the search's :class:`hpo.search._output.OutputTarget` (None: clones keep the template's).
    Ctrl-C stops the canary's task before it propagates.
    """
    from clearml import Task

    from hpo.search import _trials
    from hpo.search._output import set_clone_output
    from hpo.search._sampling import as_override
    from hpo.templates import without_template_tags

    template: Any = Task.get_task(task_id=template_id)
    params = dict(template.get_parameters(backwards_compatibility=False))
    config = draw_config(space, params, seed)
    sent = as_override({**space.fixed, **config.values})
    clone: Any = Task.clone(source_task=template, name=f"{template.name} [{study_name} canary]", parent=template_id)
    clone.set_tags([*without_template_tags(clone.get_tags()), CANARY_TAG])
    clone.update_parameters(sent)
    if output is not None:
        set_clone_output(clone, output)
    log.info("canary task %s on queue %s: %s", clone.id, queue, sent)
    Task.enqueue(clone, queue_name=queue)
    try:
        state = _wait(clone.id, poll_s)
    except BaseException:  # Ctrl-C, SIGTERM: leave nothing queued or running
        _trials.abort([clone.id])
        raise
    report = CanaryReport(clone.id, state.status, config)
    if state.status not in task_status.SUCCEEDED:
        report.error = _failure(clone, state)
        return report
    clone.reload()
    reported = clone.get_parameters(backwards_compatibility=False)
    report.mismatches = compare(sent, reported, config.verified)
    argv = command_line(clone.get_reported_console_output(CONSOLE_REPORTS)) or []
    report.mismatches += [m for m in argv_overrides(argv, sent) if m.name not in {x.name for x in report.mismatches}]
    report.missing_objectives = missing_objectives(clone.get_last_scalar_metrics(), space.objectives)
    return report


def check_canary(plan: SearchPlan) -> CanaryReport:
    """``--check``: run the canary on the plan's first queue; a failed check ends the search before any trial.

    Raises:
        ConfigError: The canary did not complete, a changed value did not reach the code, or an objective
            was not reported; the study is marked failed with the same message.
    """
    report = run_canary(
        plan.space, plan.template_id, plan.queues[0], study_name=plan.study_name, output=plan.output, poll_s=0.5
    )
    if report.ok:  # unverified parameters are worth the user's attention: a warning reaches the terminal
        (log.warning if report.config.unverified else log.info)("%s", report.message())
        return report
    study = plan.study
    study.set_user_attr(StudyAttr.STATE, SearchState.FAILED)
    study.set_user_attr(StudyAttr.STOP_REASON, report.message())
    study.set_user_attr(StudyAttr.ENDED, time.time())
    raise ConfigError(report.message())


def _wait(task_id: str, poll_s: float) -> Any:
    from hpo.search import _trials

    while True:
        state = _trials.fetch_states([task_id]).get(task_id)
        if state is None:
            raise RuntimeError(f"canary task {task_id} was deleted while it ran")
        if state.status in task_status.ENDED:
            return state
        time.sleep(poll_s)


def _failure(task: Any, state: Any) -> str:
    """Why the canary did not complete: its status reason and its last console lines."""
    lines: list[str] = []
    for report in task.get_reported_console_output(20):
        lines.extend(str(report).splitlines())
    tail = "\n".join(lines[-10:])
    reason = state.reason or state.message or state.status
    return f"{reason}" + (f"; its console ends with:\n{tail}" if tail else "")


__all__ = [
    "CANARY_TAG",
    "CanaryConfig",
    "CanaryReport",
    "Mismatch",
    "argv_overrides",
    "check_canary",
    "command_line",
    "compare",
    "draw_config",
    "missing_objectives",
    "run_canary",
]
