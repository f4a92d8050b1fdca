"""Which template task a search clones, and the checks of a space against it before launch.

The controller asks :func:`template_for_search` for the template of a space (registering a shipped
one when needed) and runs :func:`check_against_template` before anything is launched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hpo.errors import HPOError
from hpo.search._preflight import preflight
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
    """The template's id, parameters and project; registered first when the suite ships it.

    Raises:
        HPOError: No such template is registered.
    """
    from clearml import Task

    from hpo.templates import CATALOG, find_templates, register

    if space.template in CATALOG:
        if embedded:
            _ensure_demo_data()
        template = register(space.template)  # idempotent: returns the registered version when unchanged
        template_id = template.id
    else:
        found = find_templates(space.template)
        if not found:
            raise HPOError(
                f"{space.path}: template: no template {space.template!r} is registered on this server;"
                " register it (`hpo register`) or tag a draft task `hpo-template` and `template:<key>`"
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

    check_template_parameters(space, template.params)
    if space.template in CATALOG:
        preflight(space, contract_of(space.template), template.params, count_groups)


def _ensure_demo_data() -> None:
    from hpo.data import add_demo, list_versions
    from hpo.data._demo import NAME, PROJECT

    if not list_versions(PROJECT, NAME):
        log.info("no %r dataset yet: registering the demo data", NAME)
        add_demo()


__all__ = ["SearchTemplate", "check_against_template", "template_for_search"]
