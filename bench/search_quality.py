"""Does tuning pay on held-out data? Default vs tuned test accuracy, with 95% bootstrap intervals.

Usage::

    python bench/search_quality.py [--skip-bert] [--bert-home DIR] [--workdir DIR] [--json]

Runs ``hpo search tfidf`` (optimising the grouped 5-fold CV accuracy) and ``hpo search bert-quick``
(validation accuracy) as a user would, each in a fresh ``HPO_HOME`` (``--bert-home`` reuses a home
where ``bert-quick`` already ran, e.g. ``DIR/pruned`` of ``bench/pruning.py``). Both spaces try the
template's defaults first (their ``initial`` entry), so the default is a trial of the same search.
For the default and the tuned pick (the best trial, the one promoted) of each, it loads the saved
model in a fresh process, predicts the test split (never used by any selection) and prints:

- the selection score each was chosen on (CV accuracy +- its standard error, or validation accuracy);
- test accuracy with a 95% interval from a bootstrap over the test split's groups (reviews: the
  sentences of one review are not independent), 2,000 resamples, seed 0;
- the paired difference tuned - default on the same resampled rows, and tuned BERT - tuned TF-IDF.

Goals (issue 13): a tuned TF-IDF whose test accuracy is at least the default's, and a tuned BERT
above TF-IDF's best. The output says whether each interval excludes zero; a goal met on the point
estimate with an interval across zero is reported as such, not as a win.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import Run, existing, in_home, search, stop_server, trials  # noqa: E402

RESAMPLES, SEED, CONFIDENCE = 2000, 0, 0.95

# In a process pointed at the home: test labels and groups, and each model's test predictions.
PREDICT = """
import json, sys
from pathlib import Path
import pandas as pd
from clearml import Dataset, Model, Task
from hpo.promotion import _loaders  # the loaders get_best_model uses, for models that are not champions
out = {"predicted": {}, "metrics": {}}
for task_id in sys.argv[1:]:
    task = Task.get_task(task_id=task_id)
    general = task.get_parameters_as_dict().get("General", {})
    if "labels" not in out:
        dataset = Dataset.get(dataset_name=general["dataset_name"], dataset_project=general["dataset_project"],
                              dataset_version=general["dataset_version"] or None, only_completed=True)
        test = pd.read_csv(f"{dataset.get_local_copy()}/test.csv", dtype=str, keep_default_na=False)
        out.update(labels=list(test["label"]), groups=list(test["group"]), version=general["dataset_version"])
        texts = list(test["text"])
    metrics = task.get_last_scalar_metrics()
    out["metrics"][task_id] = {f"{t}/{s}": v["last"] for t, ss in metrics.items() for s, v in ss.items()}
    model = Model(model_id=task.models["output"][-1].id)
    path = Path(model.get_local_copy(raise_on_error=True))
    kind = _loaders.kind_of(model.framework, path)
    out["predicted"][task_id] = [p.label for p in _loaders.predict(kind, _loaders.load(kind, path), texts)]
print("RESULT " + json.dumps(out))
"""


def say(*lines: str) -> None:
    """Human-readable output: stdout, or stderr under ``--json`` (stdout then holds the JSON alone)."""
    print(*lines, file=sys.stderr if _JSON else sys.stdout)


_JSON = False


def _pick(rows: list[dict[str, Any]], best_trial: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The default (trial 0, the space's ``initial`` entry: the template's defaults) and the tuned pick."""
    default = next(r for r in rows if r["number"] == 0)
    tuned = next(r for r in rows if r["number"] == best_trial)
    if default["state"] != "completed":
        raise SystemExit(f"trial 0 (the defaults) did not complete ({default['state']}): no baseline to compare")
    return default, tuned


class GroupBootstrap:
    """Test accuracies of several models and their paired differences, resampling the test split's groups.

    Every model is scored on the same resampled groups (``RESAMPLES`` draws from a seeded generator),
    so a difference's interval is paired; intervals are percentile intervals at ``CONFIDENCE``.
    """

    def __init__(self, correct: dict[str, np.ndarray], groups: list[str]) -> None:
        names = sorted(set(groups))
        index = {g: i for i, g in enumerate(names)}
        member = np.array([index[g] for g in groups])
        rows = np.bincount(member, minlength=len(names)).astype(float)
        draws = np.random.default_rng(SEED).integers(0, len(names), size=(RESAMPLES, len(names)))
        counts = np.stack([np.bincount(d, minlength=len(names)) for d in draws])  # (resamples, groups)
        self.accuracy = {k: float(v.mean()) for k, v in correct.items()}
        self._samples = {
            k: (counts @ np.bincount(member, weights=v.astype(float), minlength=len(names))) / (counts @ rows)
            for k, v in correct.items()
        }

    def interval(self, name: str) -> list[float]:
        return _percentiles(self._samples[name])

    def difference(self, name: str, other: str) -> tuple[float, list[float]]:
        """``name`` minus ``other``: the difference of the accuracies and its paired interval."""
        return self.accuracy[name] - self.accuracy[other], _percentiles(self._samples[name] - self._samples[other])


def _percentiles(samples: np.ndarray) -> list[float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    return [round(float(np.percentile(samples, tail)), 4), round(float(np.percentile(samples, 100 - tail)), 4)]


def _template(run: Run, objective: str) -> dict[str, Any]:
    rows = trials(run)
    default, tuned = _pick(rows, int(run.summary["best"]["trial"]))
    ids = [default["task_id"], tuned["task_id"]]
    predicted = in_home(run.home, PREDICT, *dict.fromkeys(ids))
    labels = np.array(predicted["labels"])
    picks = (("default", default), ("tuned", tuned))
    correct = {name: np.array(predicted["predicted"][row["task_id"]]) == labels for name, row in picks}

    def selection(task_id: str) -> dict[str, float | None]:
        metrics = predicted["metrics"][task_id]
        return {"score": metrics.get(objective), "se": metrics.get(f"{objective}_se")}

    return {
        "study": run.summary["study"],
        "trials": len(rows),
        "completed": sum(r["state"] == "completed" for r in rows),
        "objective": objective,
        "dataset_version": predicted["version"],
        "groups": predicted["groups"],
        "correct": correct,
        **{name: {"trial": row["number"], "params": row["params"], **selection(row["task_id"])} for name, row in picks},
    }


def _report(name: str, part: dict[str, Any]) -> dict[str, Any]:
    stats = GroupBootstrap(part["correct"], part["groups"])
    gain, (low, high) = stats.difference("tuned", "default")
    summary = {
        "study": part["study"],
        "trials": part["trials"],
        "completed": part["completed"],
        "selected_on": part["objective"],
        "dataset_version": part["dataset_version"],
        "test_rows": len(part["groups"]),
        "test_groups": len(set(part["groups"])),
    }
    for which in ("default", "tuned"):
        summary[which] = {
            **part[which],
            "test_accuracy": round(stats.accuracy[which], 4),
            "test_interval": stats.interval(which),
        }
    summary["tuned_minus_default"] = {"value": round(gain, 4), "interval": [low, high]}
    say(f"\n{name}: {part['trials']} trials, selected on {part['objective']}, test: {summary['test_rows']} rows")
    for which in ("default", "tuned"):
        s = summary[which]
        se = f" +- {s['se']:.4f}" if s.get("se") is not None else ""
        say(
            f"  {which:<8} trial {s['trial']:>2}  selection {s['score']:.4f}{se}  test {s['test_accuracy']:.4f}"
            f" [{s['test_interval'][0]:.4f}, {s['test_interval'][1]:.4f}]"
        )
    if part["tuned"]["trial"] == part["default"]["trial"]:
        verdict = "the defaults were the best configuration found: nothing to compare"
    else:
        verdict = "the interval is " + ("above zero" if low > 0 else ("below zero" if high < 0 else "across zero"))
    say(f"  tuned - default on test: {gain:+.4f} [{low:+.4f}, {high:+.4f}] ({verdict})")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-bert", action="store_true", help="TF-IDF only (minutes, not a quarter of an hour)")
    parser.add_argument("--bert-home", type=Path, default=None, help="an HPO_HOME where bert-quick already ran")
    parser.add_argument("--workdir", type=Path, default=None, help="where new homes go (default: a new tmp dir)")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    global _JSON
    _JSON = options.json
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="hpo-quality-"))
    result: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = {}
    tfidf_run = search(workdir / "tfidf", "tfidf")
    try:
        parts["tfidf"] = _template(tfidf_run, "cv/accuracy")
    finally:
        stop_server(tfidf_run.home)
    result["tfidf"] = _report("TF-IDF (tfidf)", parts["tfidf"])
    tfidf_ok = result["tfidf"]["tuned"]["test_accuracy"] >= result["tfidf"]["default"]["test_accuracy"]
    result["goals"] = {"tfidf_tuned_at_least_default": tfidf_ok}
    if not options.skip_bert:
        if options.bert_home is not None:
            bert_run = existing(options.bert_home, "bert")
        else:
            bert_run = search(workdir / "bert", "bert-quick")
        try:
            parts["bert"] = _template(bert_run, "validation/accuracy")
        finally:
            stop_server(bert_run.home)
        result["bert"] = _report("BERT (bert-quick)", parts["bert"])
        result["bert_minus_tfidf"] = _across(parts["tfidf"], parts["bert"])
        bert_ok = result["bert_minus_tfidf"]["value"] > 0
        result["goals"]["bert_tuned_above_tfidf_tuned"] = bert_ok
    say(f"\ngoals: {json.dumps(result['goals'])}")
    if options.json:
        print(json.dumps(result, indent=2, default=str))


def _across(tfidf: dict[str, Any], bert: dict[str, Any]) -> dict[str, Any]:
    """Tuned BERT minus tuned TF-IDF on the same test rows (the same dataset version), paired."""
    if tfidf["dataset_version"] != bert["dataset_version"] or tfidf["groups"] != bert["groups"]:
        raise SystemExit("the TF-IDF and BERT searches read different test splits: no paired comparison")
    stats = GroupBootstrap({"tfidf": tfidf["correct"]["tuned"], "bert": bert["correct"]["tuned"]}, bert["groups"])
    value, (low, high) = stats.difference("bert", "tfidf")
    say(f"\ntuned BERT - tuned TF-IDF on test: {value:+.4f} [{low:+.4f}, {high:+.4f}]")
    return {"value": round(value, 4), "interval": [low, high]}


if __name__ == "__main__":
    main()
