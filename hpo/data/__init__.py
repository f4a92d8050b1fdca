"""Versioned datasets for the base tasks: registering, reusing and listing ClearML Dataset versions.

Every version holds ``train.csv``, ``validation.csv`` and ``test.csv`` with the columns ``text``,
``label`` and ``group``; the base tasks read exactly these.
"""

from hpo.data._sources import add_demo, add_file
from hpo.data._split import DEFAULT_SEED, group_split
from hpo.data._table import COLUMNS, SPLITS, Columns, normalise, read_table
from hpo.data._versions import DatasetVersion, count_groups, list_versions, register

__all__ = [
    "COLUMNS",
    "DEFAULT_SEED",
    "SPLITS",
    "Columns",
    "DatasetVersion",
    "add_demo",
    "add_file",
    "count_groups",
    "group_split",
    "list_versions",
    "normalise",
    "read_table",
    "register",
]
