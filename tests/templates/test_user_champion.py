"""Tune your own script, end to end: a user's argparse, ``task.connect(dict)`` and Hydra scripts that set
no ``output_uri``, each run once by ``hpo space init --script``, searched as written on ONE local agent (its
code folder is reused by every trial), and the champion served by ``get_best_model`` in a fresh process is
the best trial's own model: its own parameters, and the predictions re-derived from those parameters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hpo.search._space import load_space
from tests.support.search import SearchEnv
from tests.templates import _scripts

pytestmark = pytest.mark.slow

# The data every script fits on and the test re-derives the champion's predictions from.
DATA = """
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 5))
y = X @ np.array([1.0, 2.0, 0.0, 0.0, -1.0]) + rng.normal(scale=0.5, size=200)
"""

FIT = """
from sklearn.linear_model import Ridge
model = Ridge(alpha=ALPHA).fit(X[:150], y[:150])
task.get_logger().report_scalar("validation", "r2", value=model.score(X[150:], y[150:]), iteration=0)
joblib.dump(model, "model.pkl")  # no output_uri: a local file in the agent's code folder
OutputModel(task=task, framework="scikit-learn").update_weights("model.pkl")
print("fitted", ALPHA)
"""

ARGPARSE = f"""
import argparse
import joblib
from clearml import OutputModel, Task
{DATA}
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1.0)
args = parser.parse_args()
task = Task.init(project_name="own scripts", task_name="ridge argparse")
{FIT.replace("ALPHA", "args.alpha")}
"""

CONNECT = f"""
import joblib
from clearml import OutputModel, Task
{DATA}
task = Task.init(project_name="own scripts", task_name="ridge connect")
params = task.connect({{"alpha": 1.0}})
{FIT.replace("ALPHA", 'float(params["alpha"])')}
"""

HYDRA = f"""
import hydra
import joblib
from clearml import OutputModel, Task
from hydra.core.config_store import ConfigStore
{DATA}
ConfigStore.instance().store(name="config", node={{"alpha": 1.0}})


@hydra.main(version_base=None, config_name="config")
def main(cfg):
    global task
    task = Task.init(project_name="own scripts", task_name="ridge hydra")
{textwrap.indent(FIT.replace("ALPHA", "float(cfg.alpha)"), "    ")}


main()
"""

SCRIPTS = {"argparse": (ARGPARSE, "Args/alpha"), "connect": (CONNECT, "General/alpha"), "hydra": (HYDRA, "Hydra/alpha")}

# The champion from a fresh process: the unpickled object's alpha and its predictions on the held-out rows.
CHAMPION = (
    DATA
    + """
import json, sys
from hpo import get_best_model

best = get_best_model(template=sys.argv[1])
print("RESULT " + json.dumps({
    "task_id": best.task_id, "alpha": best.load().get_params()["alpha"],
    "predictions": [float(p.label) for p in best.predict(X[150:])],
}))
"""
)


@pytest.mark.parametrize("style", sorted(SCRIPTS))
def test_own_script_champion_is_the_best_trials_own_model(search_env: SearchEnv, style: str) -> None:
    code, param = SCRIPTS[style]
    script = _scripts.write(search_env.root, f"ridge_{style}.py", code)
    path = search_env.root / "space.yaml"
    init = search_env.hpo("space", "init", "--script", str(script), "-o", str(path))
    assert init.returncode == 0, init.stdout + init.stderr
    space = load_space(path)
    assert [p.name for p in space.params] == [param]

    summary = search_env.search(path, "--trials", "3", "--local-workers", "1", timeout=300)
    assert summary["state"] == "finished", summary
    assert summary["promotion"] and summary["promotion"]["champion"], summary
    trials = [t for t in search_env.study(summary["study"]) if t["state"] == "COMPLETE"]
    assert len(trials) == 3
    assert len({t["params"][param] for t in trials}) == 3  # three models, overwriting one another's local file
    best = max(trials, key=lambda t: t["values"][0])

    out = search_env.env.run(CHAMPION, space.template).result  # a fresh process
    assert out["task_id"] == best["attrs"]["task_id"]
    assert out["alpha"] == pytest.approx(best["params"][param], rel=1e-9)
    assert out["predictions"] == pytest.approx(_refit(best["params"][param]), rel=1e-9)


def _refit(alpha: float) -> list[float]:
    """The champion's predictions re-derived from its own parameter, in a separate interpreter."""
    code = DATA + textwrap.dedent(
        f"""
        import json
        from sklearn.linear_model import Ridge
        print(json.dumps(Ridge(alpha={alpha!r}).fit(X[:150], y[:150]).predict(X[150:]).tolist()))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [float(v) for v in np.asarray(json.loads(out.stdout))]
