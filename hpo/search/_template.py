"""Which template task a search clones, and the checks of a space against it before launch.

The controller asks :func:`template_for_search` for the template of a space (registering a shipped
one, or a user's run or script named by ``template: {task|project+name|script}``, when needed) and
runs :func:`check_against_template` before anything is launched. A user's run is checked before its
template copy is made, so a space that does not fit it leaves no draft behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hpo.errors import ConfigError, HPOError
from hpo.search._preflight import check_run, preflight
from hpo.search._space import SearchSpace, check_template_parameters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchTemplate:
    """The template task a search clones.

    Attributes:
        id: The template task's id.
        params: Its parameters as ``Section/name -> value`` strings.
        project: Its project's name (the optimizer task goes there).
    """

    id: str
    params: dict[str, Any]
    project: str


def template_for_search(space: SearchSpace, embedded: bool) -> SearchTemplate:
    """The template's id, parameters and project; registered first when the suite ships it, copied
    (once, after the space is checked against the run) when the space names a user's run or script.

    Raises:
        HPOError: No such template is registered, or a script failed on its first run.
        NotFoundError: The run or script the space names does not exist.
        ConfigError: The space does not fit the run it names (nothing is left behind).
    """
    from clearml import Task

    from hpo.templates import CATALOG, find_templates, register

    if space.template_source is not None:
        template_id = _user_template(space)
    elif space.template in CATALOG:
        if embedded:
            _ensure_demo_data()
        template = register(space.template)  # idempotent: returns the registered version when unchanged
        template_id = template.id
        if template.created_now:
            log.info("registered template %r (task %s)", space.template, template_id, extra={"step": True})
    else:
        found = find_templates(space.template)
        if not found:
            raise HPOError(
                f"{space.path}: template: no template {space.template!r} is registered on this server;"
                " fix: register a run or script as it (`hpo template add RUN_ID|SCRIPT --key KEY`), write"
                " `template: {task: RUN_ID}` or `{script: train.py}`, or `hpo register` a shipped one"
            )
        template_id = found[0].id
    task: Any = Task.get_task(task_id=template_id)
    params = dict(task.get_parameters(backwards_compatibility=False))
    return SearchTemplate(template_id, params, str(task.get_project_name() or ""))


def check_against_template(space: SearchSpace, template: SearchTemplate) -> None:
    """Fail before launch when the space does not fit its template.

    Raises:
        ConfigError: Names the field and the fix.
    """
    from hpo.data import count_groups
    from hpo.templates import CATALOG, contract_of
    from hpo.templates._introspect import read_run

    if space.template in CATALOG:
        check_template_parameters(space, template.params)
        preflight(space, contract_of(space.template), template.params, count_groups)
    check_run(space, read_run(template.id))


def _user_template(space: SearchSpace) -> str:
    """The id of the copy of a space's run or script; the space is checked against the run first."""
    from hpo.templates._introspect import read_run
    from hpo.templates._user import (
        SCRIPT_PREFIX,
        delete_run,
        find_copies,
        register_run,
        require_parameters,
        run_script,
        script_hash,
        source_run,
    )

    source = space.template_source
    assert source is not None
    tags: tuple[str, ...] = ()
    if source.script is not None:
        if not source.script.is_file():
            raise ConfigError(
                f"{space.path}: template.script: {source.script} does not exist; fix: give the path of your"
                " training script (relative to the space file)"
            )
        tags = (SCRIPT_PREFIX + script_hash(source.script),)
        existing = find_copies(source.key, *tags)
        if existing:
            return existing[0].id
        run_id = run_script(source.script)
    else:
        run_id = source_run(source)
    info = read_run(run_id)
    try:
        require_parameters(info)
        check_run(space, info)
    except ConfigError:
        if source.script is not None:
            delete_run(run_id)  # this search made the run: leave nothing behind
        raise
    template = register_run(run_id, source.key, extra_tags=tags)
    if template.created_now:
        log.info("registered run %s as template %r (task %s)", run_id, template.key, template.id, extra={"step": True})
    return template.id


def _ensure_demo_data() -> None:
    from hpo.data import add_demo, list_versions
    from hpo.data._demo import NAME, PROJECT

    if not list_versions(PROJECT, NAME):
        log.info("no %r dataset yet: registering the demo data", NAME, extra={"step": True})
        version = add_demo()
        log.info("registered the demo data: %s version %s", NAME, version.version, extra={"step": True})


__all__ = ["SearchTemplate", "check_against_template", "template_for_search"]
