"""Templates: the shipped base tasks (registered once) and users' runs or scripts (copied once);
every trial is a clone of one."""

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
from hpo.templates._source import TemplateSource
from hpo.templates._user import find_copies, register_run, register_script

__all__ = [
    "CATALOG",
    "Contract",
    "Limit",
    "PLANNED",
    "TEMPLATE_TAG",
    "TRIAL_OF_PREFIX",
    "Template",
    "TemplateSource",
    "TemplateSpec",
    "base_tasks_dir",
    "bundle",
    "contract_of",
    "find_copies",
    "find_templates",
    "latest_template",
    "register",
    "register_run",
    "register_script",
    "spec_for",
    "without_template_tags",
]
