"""User-style training scripts, written by the tests as a ClearML user would write them.

Each reports ``validation/accuracy`` (a known function of its arguments) and runs in well under a
second besides the SDK's own start-up.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

ARGPARSE = """
import argparse
from clearml import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--depth", type=int, default=3)
parser.add_argument("--kernel", type=str, default="rbf")
parser.add_argument("--shuffle", action="store_true")
parser.add_argument("--data-dir", type=str, default="/tmp/some where/data")
args = parser.parse_args()
task = Task.init(project_name="user scripts", task_name="argparse run")
logger = task.get_logger()
score = 1.0 - (args.lr - 0.3) ** 2 - 0.01 * args.depth
for i in range(3):
    logger.report_scalar("validation", "accuracy", value=score * (i + 1) / 3, iteration=i)
    logger.report_scalar("train", "loss", value=1.0 - score * (i + 1) / 3, iteration=i)
print("argparse run done", args.lr, args.depth)
"""

CONNECT = """
from clearml import Task

task = Task.init(project_name="user scripts", task_name="connect run")
params = task.connect({"lr": 0.1, "layers": 2, "optimizer": "adam"})
score = 1.0 - (float(params["lr"]) - 0.3) ** 2
task.get_logger().report_scalar("eval", "f1", value=score, iteration=0)
print("connect run done", params)
"""

HYDRA = """
import hydra
from hydra.core.config_store import ConfigStore
from clearml import Task

ConfigStore.instance().store(name="config", node={"lr": 0.1, "model": {"depth": 3, "act": "relu"}})


@hydra.main(version_base=None, config_name="config")
def main(cfg):
    task = Task.init(project_name="user scripts", task_name="hydra run")
    logger = task.get_logger()
    score = 1.0 - (float(cfg.lr) - 0.3) ** 2 - 0.01 * int(cfg.model.depth)
    for i in range(2):
        logger.report_scalar("validation", "accuracy", value=score * (i + 1) / 2, iteration=i)
    print("hydra run done", cfg.lr, cfg.model.depth)


main()
"""

CONFIG_OBJECT = """
from clearml import Task

task = Task.init(project_name="user scripts", task_name="config run")
task.connect({"epochs": 1})
config = task.connect_configuration({"lr": 0.1}, name="train config")
task.get_logger().report_scalar("validation", "accuracy", value=0.5, iteration=0)
"""

NO_PARAMETERS = """
from clearml import Task

task = Task.init(project_name="user scripts", task_name="bare run")
task.get_logger().report_scalar("validation", "accuracy", value=0.5, iteration=0)
"""

FAILING = """
from clearml import Task

task = Task.init(project_name="user scripts", task_name="failing run")
task.connect({"lr": 0.1})
print("loading the data")
raise RuntimeError("no such file: data.csv")
"""


def write(folder: Path, name: str, code: str) -> Path:
    """Write ``code`` as ``folder/name`` (the folder is no git checkout: the SDK stores the code itself)."""
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return path
