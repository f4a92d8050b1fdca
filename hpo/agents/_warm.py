"""What the zygote does once so that each program it forks skips it: imports and config parsing.

Measured per trial on a plain local agent (``bench/overhead.py``): ``import clearml`` ~1-2 s in
the script and as much for ``clearml_agent`` in the agent's ``execute`` child; in ``Task.init``,
importing ``matplotlib.pyplot`` (ClearML's matplotlib binding, when matplotlib is installed)
~0.8 s, parsing the SDK's own default ``*.conf`` files (pyparsing) ~0.25-0.75 s, and
``inspect.stack()`` in the SDK's logger resolving the file of every loaded module ~0.1-0.2 s.

Invariants: a fork serves a program with any ``CLEARML_*`` settings: the zygote only pre-parses
the configuration files a request's environment names (:func:`parse_configs`), into a cache keyed
by their texts; what a preloaded module computed at import time from
the environment or the OS is redone in each fork (:func:`refresh`). A parse is cached only for
text with no ``${`` substitution outside comment lines and no ``include`` but of absolute files
(``include file("/abs")``, what a local worker's generated ``clearml.conf`` holds) that are pure
in turn: keyed by the text and the included files' current contents, it is a pure function of
them. Each program gets a deep copy, because the SDK merges configuration trees in place.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hpo import _sdk_speed
from hpo.clearml_conf import config_files

# What `import clearml`/`Task.init` and `python -m clearml_agent` import (not clearml_agent.__main__
# itself: runpy warns when the module it is asked to run is already imported).
PRELOAD = (
    "clearml",
    "clearml.task",
    "clearml_agent.interface",
    "clearml_agent.session",
    "clearml_agent.commands.worker",
    "clearml_agent.helper.trace",
)
# Imported by Task.init when installed (ClearML's matplotlib binding); absent ones are skipped.
OPTIONAL = ("matplotlib.pyplot", "matplotlib.pylab")
# The HOCON parsers (vendored pyhocon) of the SDK and of the agent, and the packages whose
# default configuration files every program parses.
_PARSERS = ("clearml.utilities.pyhocon", "clearml_agent.external.pyhocon")
_DEFAULT_CONFS = ("clearml", "clearml_agent")
_INCLUDE = re.compile(r"^\s*include\b", re.MULTILINE)
_FILE_INCLUDE = re.compile(r'^\s*include\s+file\(\s*("(?:[^"\\]|\\.)*")\s*\)\s*$', re.MULTILINE)
_COMMENT = re.compile(r"^\s*(#|//).*$", re.MULTILINE)
_MAX_DEPTH = 8
_CACHE_MAX = 64


def preload() -> None:
    """Import what the programs will import, cache config parses and parse the default configs."""
    for name in PRELOAD:
        importlib.import_module(name)
    for name in OPTIONAL:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    for name in _PARSERS:
        _cache_parses(importlib.import_module(name).ConfigFactory)
    _sdk_speed.install()  # Task.init's and every later request's check, without re-checking each schema
    # inspect's module-by-file cache (realpath of every loaded module), which the SDK's logger fills
    # through inspect.stack() in Task.init: filled once here, each fork only adds its new modules.
    inspect.getmodule(sys._getframe())
    for package in _DEFAULT_CONFS:
        root = Path(importlib.import_module(package).__file__ or "").parent
        parser = importlib.import_module(_PARSERS[_DEFAULT_CONFS.index(package)]).ConfigFactory
        for path in sorted(root.glob("**/default/*.conf")):
            parser.parse_file(str(path))


def parse_configs(env: Mapping[str, str]) -> None:
    """Parse, with each parser, the ``clearml.conf`` files a program run with ``env`` reads.

    Called in the zygote before it forks: the parses (~0.5 s each for the configuration dump the
    agent hands each task) are cached for this program and every later one with the same texts,
    where each fork's own cache dies with it.
    """
    for path in config_files(env):
        for name in _PARSERS:
            try:
                importlib.import_module(name).ConfigFactory.parse_file(str(path))
            except Exception:  # noqa: BLE001  # a broken file: the program reports it as it would without the zygote
                continue


def _cache_parses(factory: Any) -> None:
    """Make ``factory.parse_string`` (which ``parse_file`` calls) answer repeated pure texts from a cache."""
    original: Callable[..., Any] = factory.parse_string
    cache: dict[tuple[Any, ...], Any] = {}

    def parse_string(cls: Any, content: str, *args: Any, **kwargs: Any) -> Any:
        texts = _pure_texts(content)
        if texts is None:
            return original(content, *args, **kwargs)
        key = (texts, *args, *sorted(kwargs.items()))
        try:
            tree = cache[key]
        except KeyError:
            if len(cache) >= _CACHE_MAX:  # drop the oldest
                cache.pop(next(iter(cache)))
            tree = cache[key] = original(content, *args, **kwargs)
        except TypeError:  # an unhashable argument
            return original(content, *args, **kwargs)
        return copy.deepcopy(tree)

    factory.parse_string = classmethod(parse_string)


def _pure_texts(content: str, depth: int = 0) -> tuple[str, ...] | None:
    """``content`` and, in order, the texts of the files it includes (recursively), if the parse of
    ``content`` depends on nothing else; else ``None``."""
    code = _COMMENT.sub("", content)
    if "${" in code or depth > _MAX_DEPTH:
        return None
    literals = _FILE_INCLUDE.findall(code)
    if len(literals) != len(_INCLUDE.findall(code)):  # another include form (relative, url, required(...))
        return None
    texts = [content]
    for literal in literals:
        path = json.loads(literal)
        if not isinstance(path, str) or not os.path.isabs(path):
            return None
        try:
            included = Path(path).read_text()
        except (OSError, UnicodeDecodeError):  # a missing file: leave it to the parser as it is
            return None
        nested = _pure_texts(included, depth + 1)
        if nested is None:
            return None
        texts += [path, *nested]
    return tuple(texts)


def refresh() -> None:
    """In a fork: redo what preloaded modules computed at import time from the environment or the OS."""
    remote = sys.modules.get("clearml.config.remote")
    if remote is not None:  # the task id an agent hands its script (CLEARML_TASK_ID), read at import
        from clearml.config.defs import TASK_ID_ENV_VAR

        remote.override_current_task_id(TASK_ID_ENV_VAR.get())
    if "numpy" in sys.modules:  # a fresh interpreter seeds numpy's global generator from the OS
        sys.modules["numpy"].random.seed()
