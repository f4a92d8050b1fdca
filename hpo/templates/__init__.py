"""Base tasks registered once on the server as templates; every trial is a clone of one."""

from hpo.templates._catalog import CATALOG, PLANNED, TemplateSpec, base_tasks_dir, bundle, contract_of, spec_for
from hpo.templates._contract import Contract, Limit
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
    "Contract",
    "Limit",
    "PLANNED",
    "TEMPLATE_TAG",
    "TRIAL_OF_PREFIX",
    "Template",
    "TemplateSpec",
    "base_tasks_dir",
    "bundle",
    "contract_of",
    "find_templates",
    "latest_template",
    "register",
    "spec_for",
    "without_template_tags",
]
