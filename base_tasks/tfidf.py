"""TF-IDF features + Bernoulli naive Bayes on a versioned ClearML Dataset.

An ordinary ClearML script: run it by hand against any configured server
(``eval "$(hpo server env)"; python base_tasks/tfidf.py``), or register it once as a template
(``hpo register tfidf``) and let the suite run clones of it with other arguments.

Reports, under ``cv``, a grouped k-fold cross-validation over train+validation (``cv_folds`` folds,
grouped by review so that no review's sentences are on both sides): ``accuracy`` and ``macro_f1``
(the means over the folds: the search objective) and ``accuracy_se`` / ``macro_f1_se`` (their
standard errors), the per-fold scores as the ``cv folds`` table and the ``cv_folds`` artifact (with
each fold's review ids hashed, so that two tasks can be compared fold by fold). Then it fits on
train, reports ``validation`` and ``test`` accuracy and macro-F1 (test is never used for selection)
and saves that pipeline as the task's output model. ``cv_folds: 0`` skips the cross-validation.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import joblib
from _common import cross_validate, load_splits, report_cv, report_split  # hpo: inline
from clearml import OutputModel, Task
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import BernoulliNB
from sklearn.pipeline import Pipeline

# Connected as the task's "General" arguments; a clone's overrides arrive with these types. The defaults
# are scikit-learn's own (max_features 0 = no limit); random_state is recorded for reproducibility
# although TF-IDF and naive Bayes are deterministic.
DEFAULTS = {
    "dataset_name": "Amazon reviews dataset",
    "dataset_project": "Amazon reviews",
    "dataset_version": "1.0.0",
    "random_state": 42,
    "analyzer": "word",
    "ngram_min": 1,
    "ngram_max": 1,
    "max_features": 0,
    "min_df": 1,
    "max_df": 1.0,
    "sublinear_tf": False,
    "binary": False,
    "lowercase": True,
    "alpha": 1.0,
    "binarize": 0.0,
    "fit_prior": True,
    "cv_folds": 5,
}

# Checked by `hpo search` before it launches a trial (hpo/templates/_contract.py): the scalars this
# script reports, each with the argument that switches it off ("" if none), and argument ranges
# ("groups": the distinct reviews in train+validation). main() checks them again when it runs.
REPORTS = {
    "cv/accuracy": "cv_folds",
    "cv/accuracy_se": "cv_folds",
    "cv/macro_f1": "cv_folds",
    "cv/macro_f1_se": "cv_folds",
    "validation/accuracy": "",
    "validation/macro_f1": "",
    "test/accuracy": "",
    "test/macro_f1": "",
    "timing/fit_seconds": "",
}
LIMITS = {
    "cv_folds": {"min": 2, "max": "groups", "off": 0},
    "max_df": {"above": 0.0, "max": 1.0},
    "alpha": {"min": 0.0},
    "max_features": {"min": 0},
}


def build(args: dict) -> Pipeline:
    """The pipeline for ``args`` (``max_features`` 0 means no limit)."""
    vectorizer = TfidfVectorizer(
        analyzer=args["analyzer"],
        ngram_range=(int(args["ngram_min"]), int(args["ngram_max"])),
        max_features=int(args["max_features"]) or None,
        min_df=int(args["min_df"]),
        max_df=float(args["max_df"]),
        sublinear_tf=bool(args["sublinear_tf"]),
        binary=bool(args["binary"]),
        lowercase=bool(args["lowercase"]),
    )
    classifier = BernoulliNB(
        alpha=float(args["alpha"]), binarize=float(args["binarize"]), fit_prior=bool(args["fit_prior"])
    )
    return Pipeline([("tfidf", vectorizer), ("nb", classifier)])


def main() -> None:
    task = Task.init(project_name="Amazon reviews", task_name="TF-IDF Vectorize BernoulliNB", output_uri=True)
    args = task.connect(dict(DEFAULTS))
    data = load_splits(args["dataset_name"], args["dataset_project"], args["dataset_version"])
    logger = task.get_logger()

    if int(args["cv_folds"]):
        folds = cross_validate(lambda: build(args), data, int(args["cv_folds"]))
        report_cv(task, folds)
        print(f"cv: accuracy {folds.mean('accuracy'):.4f} +- {folds.se('accuracy'):.4f} ({folds.k} folds)")

    pipeline = build(args)
    started = time.perf_counter()
    pipeline.fit(data["train"]["text"], data["train"]["label"])
    logger.report_scalar(title="timing", series="fit_seconds", value=time.perf_counter() - started, iteration=0)

    labels = sorted(data["train"]["label"].unique())
    model = OutputModel(
        task=task,
        name=f"{task.name} (TF-IDF BernoulliNB)",  # the run's name first: trials' models tell apart
        framework="scikit-learn",
        label_enumeration={label: index for index, label in enumerate(labels)},
    )
    for split in ("validation", "test"):
        predicted = list(pipeline.predict(data[split]["text"]))
        metrics = report_split(logger, split, data[split]["label"], predicted, model)
        print(f"{split}: " + ", ".join(f"{name} {value:.4f}" for name, value in metrics.items()))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump(pipeline, path)
        model.update_weights(weights_filename=str(path), auto_delete_file=False, async_enable=False)
    task.flush(wait_for_uploads=True)
    task.mark_completed()


if __name__ == "__main__":
    main()
