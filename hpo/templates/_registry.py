"""Registering base tasks on a ClearML server as templates, once per content version.

A template is a draft task (status ``created``, no parent) holding the bundled script, its
``General`` arguments with their defaults and its pinned requirements, tagged::

    hpo-template  template:<key>  template-version:<hash of script, requirements and defaults>

The tags are added last, so a task whose registration failed half-way is never found (and is
deleted). Clones made with ``Task.clone`` keep the tags and get a parent: lookups here skip tasks
with a parent, and a search drops ``hpo-template`` from its trial clones and turns ``template:<key>``
into ``from-template:<key>`` (``without_template_tags``), so that nothing that finds templates by tag
takes a trial for one (``template-version:`` stays, to tell which version a trial ran). Only the public SDK is used:
the same code works on a real server. A user's run or script becomes a template the same way, as a copy
of the run (:mod:`hpo.templates._user`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hpo.errors import HPOError, NotFoundError
from hpo.templates._catalog import CATALOG, TemplateSpec, base_tasks_dir, bundle, read_defaults, requirements, spec_for

log = logging.getLogger(__name__)

TEMPLATE_TAG = "hpo-template"
SECTION = "General"  # where ``task.connect(dict)`` puts a script's arguments
# Part of every version hash: bump it when the way a template is built changes, so templates
# registered the old way are superseded rather than reused.
BUILD_FORMAT = 3


@dataclass(frozen=True)
class Template:
    """A registered template.

    Attributes:
        created_now: True when this call registered it, False when it was already there.
        source: The run a user's template copies ("" for a shipped one).
    """

    key: str
    id: str
    version: str
    project: str
    name: str
    created_now: bool = False
    source: str = ""


@dataclass(frozen=True)
class _Build:
    spec: TemplateSpec
    code: str
    packages: list[str]
    defaults: dict[str, Any]
    version: str


def _build(key: str) -> _Build:
    spec = spec_for(key)
    script = base_tasks_dir() / spec.script
    if not script.is_file():
        raise NotFoundError(f"base task {script} does not exist; set HPO_BASE_TASKS to the base_tasks folder")
    code = bundle(script)
    packages = requirements(spec)
    defaults = read_defaults(code, str(script))
    payload = json.dumps(
        {"format": BUILD_FORMAT, "code": code, "packages": packages, "defaults": defaults}, sort_keys=True
    )
    return _Build(spec, code, packages, defaults, hashlib.sha256(payload.encode()).hexdigest()[:12])


def _tags(key: str, version: str) -> list[str]:
    return [TEMPLATE_TAG, f"template:{key}", f"template-version:{version}"]


TRIAL_OF_PREFIX = "from-template:"  # a clone's lineage: ``from-template:<key>``, never taken for a template


def without_template_tags(tags: Sequence[str]) -> list[str]:
    """A clone's tags: ``tags`` without those that mark a template (``hpo-template``), ``template:<key>``
    turned into the lineage tag ``from-template:<key>`` (what a warm start finds earlier trials by)."""
    return [
        TRIAL_OF_PREFIX + t.removeprefix("template:") if t.startswith("template:") else t
        for t in tags
        if t != TEMPLATE_TAG
    ]


def find_templates(key: str, version: str | None = None) -> list[Template]:
    """Registered templates of ``key`` (only ``version`` when given), newest first."""
    from clearml import Task

    project = CATALOG[key].project if key in CATALOG else ""
    tags = ["__$all", TEMPLATE_TAG, f"template:{key}"] + ([f"template-version:{version}"] if version else [])
    found = Task.query_tasks(
        tags=tags,
        additional_return_fields=["name", "parent", "tags", "system_tags", "created"],
    )
    templates: list[tuple[datetime | str, Template]] = []
    for info in found:
        if not isinstance(info, dict) or info.get("parent") or "archived" in (info.get("system_tags") or []):
            continue
        tag_version = next(
            (t.split(":", 1)[1] for t in info.get("tags") or [] if t.startswith("template-version:")), ""
        )
        # query_tasks returns the project id; the catalog knows the name the template was registered under.
        template = Template(key, info["id"], tag_version, project, str(info.get("name") or ""))
        templates.append((info.get("created") or "", template))
    templates.sort(key=lambda pair: str(pair[0]), reverse=True)
    return [template for _, template in templates]


def latest_template(key: str) -> Template:
    """The newest registered template of ``key``.

    Raises:
        NotFoundError: None is registered.
    """
    templates = find_templates(key)
    if not templates:
        raise NotFoundError(f"no {key!r} template is registered on this server; run `hpo register {key}`")
    return templates[0]


def _create(build: _Build) -> str:
    from clearml import Task

    spec = build.spec
    with tempfile.TemporaryDirectory(prefix="hpo-template-") as tmp:
        # A copy outside any git checkout: the SDK then stores the code itself, not a repository reference.
        script = Path(tmp) / spec.script
        script.write_text(build.code)
        task: Task = Task.create(
            project_name=spec.project,
            task_name=spec.task_name,
            task_type=spec.task_type,
            script=str(script),
            packages=build.packages,
            add_task_init_call=False,
            force_single_script_file=True,
            binary="python3",  # any Python 3; the SDK would pin the registering interpreter (python3.11)
        )
    try:
        # What Task.init(output_uri=True) records on a run by hand: clones upload their models there.
        task.output_uri = True  # type: ignore[misc,assignment]  # the SDK property has a setter mypy misses
        task.set_parameters({f"{SECTION}/{name}": value for name, value in build.defaults.items()})
        task.set_comment(f"hpo template {spec.key!r}, version {build.version}: {spec.script} with its defaults")
        task.add_tags(_tags(spec.key, build.version))
    except Exception as err:  # never leave a half-registered template behind
        log.warning("registering template %s failed; deleting task %s", spec.key, task.id)
        task.delete()
        raise HPOError(f"registering template {spec.key!r} failed: {err}") from err
    return str(task.id)


def register(key: str) -> Template:
    """Register the current version of base task ``key``, or return it when it is already registered.

    An older version stays registered; a search started from it keeps working.

    Raises:
        ConfigError: Unknown or not yet supported key, or a malformed base task.
        HPOError: The server refused the registration (nothing is left behind).
    """
    build = _build(key)
    existing = find_templates(key, build.version)
    if existing:
        return existing[0]
    task_id = _create(build)
    return Template(key, task_id, build.version, build.spec.project, build.spec.task_name, created_now=True)


__all__ = [
    "TEMPLATE_TAG",
    "TRIAL_OF_PREFIX",
    "Template",
    "find_templates",
    "latest_template",
    "register",
    "without_template_tags",
]
