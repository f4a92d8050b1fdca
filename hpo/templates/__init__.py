"""Base tasks registered once on the server as templates; every trial is a clone of one."""

from hpo.templates._catalog import CATALOG, PLANNED, TemplateSpec, base_tasks_dir, bundle, spec_for
from hpo.templates._registry import (
    TEMPLATE_TAG,
    TRIAL_OF_PREFIX,
    Template,
    find_templates,
    latest_template,
    register,
    without_template_tags,
)

__all__ = [
    "CATALOG",
    "PLANNED",
    "TEMPLATE_TAG",
    "TRIAL_OF_PREFIX",
    "Template",
    "TemplateSpec",
    "base_tasks_dir",
    "bundle",
    "find_templates",
    "latest_template",
    "register",
    "spec_for",
    "without_template_tags",
]
