"""Where a user template comes from: a run's id, a run found by project and name, or a script.

A space's ``template:`` is either a registered key (``tfidf``) or a mapping read here::

    template: {task: 4f0c...}                          # that run
    template: {project: My research, name: digits svc}  # the newest completed run of that name
    template: {script: train.py, key: digits}          # run once, then that run

``key:`` names the template (trials are tagged ``from-template:<key>``); without one it is a slug
of the run's name, of the script's file name, or ``task-<first 8 characters of the id>``. This
module only reads the reference (no server); :mod:`hpo.templates._user` resolves it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo.errors import ConfigError

_FIELDS = {"task", "project", "name", "script", "key"}


def slug(text: str) -> str:
    """A template key from a name: lower case, runs of other characters turned into one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "template"


@dataclass(frozen=True)
class TemplateSource:
    """A reference to a user's run or script that becomes a template on the first search.

    Attributes:
        key: The template key.
        task: A run's id, when given so.
        project: With ``name``: the project of the newest completed run of that name.
        name: That run's name.
        script: A script to run once (an absolute path).
    """

    key: str
    task: str | None = None
    project: str | None = None
    name: str | None = None
    script: Path | None = None

    def describe(self) -> str:
        """How the reference reads in messages."""
        if self.task:
            return f"run {self.task}"
        if self.script:
            return f"script {self.script}"
        return f"the newest completed run {self.name!r} of project {self.project!r}"


def parse_source(value: Mapping[str, Any], where: str, base: Path) -> TemplateSource:
    """Read a ``template:`` mapping; a relative ``script`` is relative to ``base`` (the space's folder).

    Raises:
        ConfigError: Unknown fields, or not exactly one of ``task``, ``project`` + ``name``, ``script``.
    """
    unknown = sorted(set(value) - _FIELDS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown field; use only: {', '.join(sorted(_FIELDS))}")
    plain = {k: str(v).strip() for k, v in value.items() if v is not None and str(v).strip()}
    given = [k for k in ("task", "script") if k in plain] + (["project"] if {"project", "name"} & set(plain) else [])
    if len(given) != 1 or (given == ["project"] and not {"project", "name"} <= set(plain)):
        raise ConfigError(
            f"{where}: expected one of {{task: ID}}, {{project: P, name: N}} or {{script: PATH}}, got {dict(value)!r};"
            " fix: write e.g. `template: {task: <run id>}` or `template: {script: train.py}`"
        )
    key = plain.get("key")
    if key is not None and slug(key) != key:
        raise ConfigError(f"{where}.key: {key!r} is not a plain key; fix: write e.g. `key: {slug(key)}`")
    if "task" in plain:
        return TemplateSource(key or f"task-{plain['task'][:8]}", task=plain["task"])
    if "script" in plain:
        script = Path(plain["script"]).expanduser()
        script = script if script.is_absolute() else (base / script)
        return TemplateSource(key or slug(script.stem), script=script.resolve())
    return TemplateSource(key or slug(plain["name"]), project=plain["project"], name=plain["name"])


__all__ = ["TemplateSource", "parse_source", "slug"]
