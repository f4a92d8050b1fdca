"""Lookups shared by the task route modules."""

from __future__ import annotations

from hpo.server._router import Call, Data
from hpo.server.routes._common import editable, require


def task_for_edit(call: Call, field: str = "task") -> Data:
    """A private copy of the task the request names, to change and put back."""
    return editable(call.store.tasks, "task", call.body.get(field))


def project_id(call: Call) -> str | None:
    """The request's ``project``, checked to exist."""
    project = call.opt_text("project")
    if project:
        require(call.store.projects, "project", project)
    return project
