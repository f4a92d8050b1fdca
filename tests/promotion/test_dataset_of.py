"""Which dataset a promoted model records: the run's ``General/dataset_*`` arguments (the shipped
templates), else the one ClearML dataset the SDK saw it read (a user's script), else none."""

from __future__ import annotations

import pytest

from tests.support.promotion import World

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("promotion-world")]  # the session's server, built once

READ = """
import json
from clearml import Dataset, Task
from hpo.promotion._records import dataset_of

task = Task.init(project_name="My research", task_name="reads reviews")
Dataset.get(dataset_project="Amazon reviews", dataset_name="Amazon reviews dataset", dataset_version="2.0.0",
            alias="reviews")
task.close()
bare = Task.create(project_name="My research", task_name="reads nothing")
out = [dataset_of(t) for t in (task.id, bare.id)]
print("RESULT " + json.dumps([[d.project, d.name, d.version, d.known] for d in out]))
"""


def test_dataset_of_a_users_script(world: World) -> None:
    [read, nothing] = world.env.run(READ).result
    assert read == ["Amazon reviews", "Amazon reviews dataset", "2.0.0", True]
    assert nothing == ["", "", "", False]
