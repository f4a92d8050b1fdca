"""A user's run or script as a template: a parent-less draft copy with the template tags, made once.

The user's run is never modified. Its copy is made with ``Task.import_task`` (a fresh draft, so it
has no parent, which :func:`hpo.templates._registry.find_templates` requires) holding the run's
script, requirements, parameters and configuration objects, tagged::

    hpo-template  template:<key>  template-version:<hash of script, requirements, parameters, configuration>
    template-source:<run id>      (where its metrics are read from)
    template-script:<hash>        (only for a script: the file content the run was made from)

Registering the same run (same key, same content) again returns the existing copy. A script is run
once in a subprocess with this process's server environment, so that it reports its arguments and
metrics (``Task.init`` inside it creates the run); a later search of the unchanged script reuses its
copy without running it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hpo.clearml_conf import config_files, hocon_include
from hpo.errors import ConfigError, HPOError, NotFoundError
from hpo.templates._introspect import HYDRA_EDIT, SOURCE_PREFIX, RunInfo, get_task, read_run
from hpo.templates._registry import TEMPLATE_TAG, Template
from hpo.templates._source import TemplateSource, slug

log = logging.getLogger(__name__)

SCRIPT_PREFIX = "template-script:"
_TASK_ID = re.compile(r"ClearML Task: .*?task id=([0-9a-zA-Z]+)")
_COPIED = ("name", "comment", "type", "script", "hyperparams", "configuration", "container")
CONSOLE_LINES = 15  # how much of a failed first run's console an error shows


def _tag_value(tags: Any, prefix: str) -> str:
    return next((t.removeprefix(prefix) for t in tags or [] if t.startswith(prefix)), "")


def find_copies(key: str | None = None, *tags: str) -> list[Template]:
    """Registered templates (``key`` and ``tags`` when given), newest first, shipped ones included."""
    from clearml import Task

    wanted = ["__$all", TEMPLATE_TAG, *([f"template:{key}"] if key else []), *tags]
    rows = Task.query_tasks(tags=wanted, additional_return_fields=["name", "parent", "tags", "system_tags", "created"])
    found = []
    for row in rows:
        if not isinstance(row, dict) or row.get("parent") or "archived" in (row.get("system_tags") or []):
            continue
        row_tags = [str(t) for t in row.get("tags") or []]
        template = Template(
            _tag_value(row_tags, "template:"),
            str(row["id"]),
            _tag_value(row_tags, "template-version:"),
            "",
            str(row.get("name") or ""),
            source=_tag_value(row_tags, SOURCE_PREFIX),
        )
        found.append((str(row.get("created") or ""), template))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [template for _, template in found]


def require_parameters(info: RunInfo) -> None:
    """Raises ConfigError when the run has nothing a search could set."""
    if not info.searchable() - {HYDRA_EDIT}:
        raise ConfigError(
            f"run {info.id} ({info.name!r}) has no parameters to search; fix: connect its arguments (argparse,"
            " task.connect(dict) or Hydra) before or after Task.init, and run it again"
        )


def _version(exported: dict[str, Any]) -> str:
    script = exported.get("script") or {}
    payload = {
        "script": {k: script.get(k) for k in ("repository", "branch", "version_num", "entry_point", "diff")},
        "requirements": script.get("requirements"),
        "params": {
            f"{section}/{name}": (item or {}).get("value")
            for section, items in (exported.get("hyperparams") or {}).items()
            for name, item in (items or {}).items()
        },
        "configuration": {name: (c or {}).get("value") for name, c in (exported.get("configuration") or {}).items()},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def register_run(run_id: str, key: str | None = None, extra_tags: tuple[str, ...] = ()) -> Template:
    """Register run ``run_id`` as template ``key`` (default: a slug of its name), or return its copy.

    Raises:
        NotFoundError: No such run.
        ConfigError: The run has no parameters.
        HPOError: The server refused the copy (nothing is left behind).
    """
    from clearml import Task

    info = read_run(run_id)
    require_parameters(info)
    key = key or slug(info.name)
    exported = get_task(run_id).export_task()
    version = _version(exported)
    existing = find_copies(key, f"template-version:{version}")
    if existing:
        return existing[0]
    data: dict[str, Any] = {k: exported[k] for k in _COPIED if exported.get(k)}
    data["project_name"] = exported.get("project_name") or info.project
    execution = dict(exported.get("execution") or {})
    execution.pop("queue", None)
    data["execution"] = execution
    destination = (exported.get("output") or {}).get("destination")
    if destination:
        data["output"] = {"destination": destination}
    copy = Task.import_task(data)
    if copy is None:
        raise HPOError(f"copying run {run_id} as template {key!r} failed: the server refused it; see the log")
    try:
        copy.set_comment(f"hpo template {key!r}, version {version}: a copy of run {run_id} ({info.name})")
        copy.add_tags(
            [TEMPLATE_TAG, f"template:{key}", f"template-version:{version}", SOURCE_PREFIX + run_id, *extra_tags]
        )
    except Exception as err:  # never leave a half-registered template behind
        copy.delete()
        raise HPOError(f"registering run {run_id} as template {key!r} failed: {err}") from err
    return Template(key, str(copy.id), version, info.project, info.name, created_now=True, source=run_id)


def script_hash(script: Path) -> str:
    return hashlib.sha256(script.read_bytes()).hexdigest()[:12]


def run_script(script: Path) -> str:
    """Run ``script`` once with this process's ClearML environment; the id of the run it created.

    Raises:
        NotFoundError: No such script.
        HPOError: It failed (its last console lines are in the message; its run is deleted), or it
            created no ClearML task.
    """
    if not script.is_file():
        raise NotFoundError(f"script {script} does not exist; fix: pass the path of your training script")
    env = {**os.environ, "CLEARML_TASK_NO_REUSE": "1", "PYTHONUNBUFFERED": "1"}
    log.info("running %s once to record its arguments and metrics", script, extra={"step": True})  # hpo search says it
    with tempfile.TemporaryDirectory(prefix="hpo-first-run-") as folder:
        env["CLEARML_CONFIG_FILE"] = str(_first_run_config(Path(folder), env))
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=script.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream, in the order the script wrote it
            text=True,
            stdin=subprocess.DEVNULL,
        )
    found = _TASK_ID.search(proc.stdout)
    last = "\n".join(last_lines(proc.stdout))
    if proc.returncode != 0:
        if found:
            delete_run(found.group(1))
        raise HPOError(
            f"script {script} failed on its first run (exit code {proc.returncode}); fix: make"
            f" `python {script.name}` run to its end. Its last console lines:\n{last}"
        )
    if not found:
        raise HPOError(
            f"script {script} created no ClearML task; fix: call Task.init(project_name=..., task_name=...)"
            f" in it. Its last console lines:\n{last}"
        )
    return found.group(1)


# The SDK detects a script's code and requirements in a thread by default. A script that ends
# within 10 s of Task.init (one that fails at once, on a loaded machine) has that thread killed
# (an async SystemExit); killed inside the task's edit lock it leaves the lock held, and the SDK's
# exit then waits forever on its resource monitor, which waits for the lock (seen: 2 of 8 such
# runs under load). Detected in Task.init itself, there is no thread to kill.
FIRST_RUN_OVERRIDES = """\
sdk {
    development { vcs_repo_detect_async: false }
}
"""


def _first_run_config(folder: Path, env: dict[str, str]) -> Path:
    """A ``clearml.conf`` in ``folder``: what a program run with ``env`` reads, then :data:`FIRST_RUN_OVERRIDES`."""
    path = folder / "clearml.conf"
    path.write_text("".join(hocon_include(f.resolve()) for f in config_files(env)) + FIRST_RUN_OVERRIDES)
    return path


def last_lines(console: str, count: int = CONSOLE_LINES) -> list[str]:
    """The last ``count`` console lines, ending at the script's own traceback when there is one.

    The SDK may log more after it, and its threads, racing the interpreter's shutdown, can print a
    ``SystemError`` traceback of their own after the script's: the last traceback that is not such a
    ``SystemError`` is the script's (else the last one).
    """
    lines = console.rstrip().splitlines()
    ends: list[int] = []
    for start, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()), None)
            if end is not None:
                ends.append(end)
    own = [end for end in ends if not lines[end].startswith("SystemError")]
    if own or ends:
        lines = lines[: (own or ends)[-1] + 1]
    return lines[-count:]


def delete_run(task_id: str) -> None:
    """Delete a run this suite made (a script's first run); a failure to is only logged."""
    try:
        get_task(task_id).delete()
    except Exception as err:  # the run's own failure is what the user must see
        log.warning("could not delete the failed run %s: %s", task_id, err)


def register_script(script: Path, key: str | None = None) -> Template:
    """Register ``script`` (run once when its unchanged content has no copy yet) as template ``key``.

    Raises:
        NotFoundError, ConfigError, HPOError: As :func:`run_script` and :func:`register_run`.
    """
    if not script.is_file():
        raise NotFoundError(f"script {script} does not exist; fix: pass the path of your training script")
    key = key or slug(script.stem)
    marker = SCRIPT_PREFIX + script_hash(script)
    existing = find_copies(key, marker)
    if existing:
        return existing[0]
    run_id = run_script(script)
    return register_run(run_id, key, extra_tags=(marker,))


def source_run(source: TemplateSource) -> str:
    """The run a reference names (a script is not run here: see :func:`register_script`).

    Raises:
        NotFoundError: No such run.
    """
    from clearml import Task

    if source.task:
        get_task(source.task)
        return source.task
    rows = Task.query_tasks(
        project_name=source.project,
        task_name=f"^{re.escape(source.name or '')}$",
        task_filter={"status": ["completed", "published"]},
        additional_return_fields=["name", "parent", "tags", "created"],
    )
    runs = [
        r
        for r in rows
        if isinstance(r, dict)
        and r.get("name") == source.name
        and not r.get("parent")
        and TEMPLATE_TAG not in (r.get("tags") or [])
    ]
    if not runs:
        raise NotFoundError(
            f"no completed run named {source.name!r} in project {source.project!r}; fix: run it to its end once,"
            " or name the run with `template: {task: ID}`"
        )
    return str(max(runs, key=lambda r: str(r.get("created") or ""))["id"])


__all__ = [
    "SCRIPT_PREFIX",
    "delete_run",
    "find_copies",
    "register_run",
    "register_script",
    "require_parameters",
    "run_script",
    "script_hash",
    "source_run",
]
