"""Helpers the base tasks share: reading a dataset version, scoring and reporting a split.

Kept free of ``from __future__`` imports and of anything but clearml, pandas and scikit-learn:
``hpo register`` inlines this file into each template at its import line, so that a template is
one self-contained script on any agent.
"""

import hashlib
import math
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from clearml import Dataset, Logger, OutputModel, Task
from sklearn.metrics import accuracy_score, classification_report, f1_score
from sklearn.model_selection import GroupKFold

SPLITS = ("train", "validation", "test")


def load_splits(name: str, project: str, version: str) -> dict[str, pd.DataFrame]:
    """The ``train``/``validation``/``test`` tables of a dataset version (empty version: newest)."""
    dataset = Dataset.get(
        dataset_name=name,
        dataset_project=project,
        dataset_version=version or None,
        only_completed=True,
        alias="dataset",
    )
    folder = Path(dataset.get_local_copy())
    types = {"text": str, "label": str, "group": str}
    return {split: pd.read_csv(folder / f"{split}.csv", dtype=types, keep_default_na=False) for split in SPLITS}


def score(labels: "pd.Series[str]", predicted: "list[str]") -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, average="macro")),
    }


def report_split(
    logger: Logger, split: str, labels: "pd.Series[str]", predicted: "list[str]", model: "OutputModel | None" = None
) -> dict[str, float]:
    """Report accuracy and macro-F1 as scalars titled ``split`` and the classification report as a table.

    The validation split is what a search optimises; the test split is reported under its own
    title and must never be used to select anything.
    """
    metrics = score(labels, predicted)
    for name, value in metrics.items():
        logger.report_scalar(title=split, series=name, value=value, iteration=0)
    report = classification_report(labels, predicted, output_dict=True, zero_division=0)
    table = pd.DataFrame(report).transpose().round(4).reset_index(names="class")
    logger.report_table(title=f"{split} classification report", series=split, iteration=0, table_plot=table)
    if model is not None:
        model.report_table(title=f"{split} classification report", series=split, iteration=0, table_plot=table)
    return metrics


class Folds:
    """Per-fold scores of a grouped k-fold cross-validation, and each fold's held-out groups (hashed)."""

    def __init__(self, scores: list[dict[str, float]], signatures: list[str]) -> None:
        self.scores = scores
        self.signatures = signatures
        self.k = len(scores)

    def mean(self, metric: str) -> float:
        return statistics.fmean(fold[metric] for fold in self.scores)

    def se(self, metric: str) -> float:
        """Standard error of the mean over the folds (sample standard deviation / sqrt(k))."""
        return statistics.stdev(fold[metric] for fold in self.scores) / math.sqrt(self.k)


def cross_validate(make_model: Callable[[], Any], data: dict[str, pd.DataFrame], k: int) -> Folds:
    """Grouped ``k``-fold CV over train+validation: no group (review) is on both sides of a fold.

    Raises:
        ValueError: ``k`` is below 2 or above the number of groups.
    """
    pool = pd.concat([data["train"], data["validation"]], ignore_index=True)
    groups = pool["group"].nunique()
    if k < 2 or k > groups:
        raise ValueError(
            f"cv_folds: {k} is not between 2 and the {groups} groups (reviews) in train+validation;"
            f" fix: set cv_folds to a value in 2..{groups}, or 0 to skip the cross-validation"
        )
    scores, signatures = [], []
    for fit_rows, held_rows in GroupKFold(n_splits=k).split(pool["text"], pool["label"], pool["group"]):
        model = make_model().fit(pool["text"].iloc[fit_rows], pool["label"].iloc[fit_rows])
        held = pool.iloc[held_rows]
        scores.append(score(held["label"], list(model.predict(held["text"]))))
        members = "\n".join(sorted(held["group"].unique()))
        signatures.append(hashlib.sha256(members.encode()).hexdigest()[:16])
    return Folds(scores, signatures)


def report_cv(task: Task, folds: Folds) -> None:
    """Report the CV means and standard errors (title ``cv``), the per-fold table and the ``cv_folds`` artifact."""
    logger = task.get_logger()
    for metric in folds.scores[0]:
        logger.report_scalar(title="cv", series=metric, value=folds.mean(metric), iteration=0)
        logger.report_scalar(title="cv", series=f"{metric}_se", value=folds.se(metric), iteration=0)
    table = pd.DataFrame(folds.scores).round(4)
    table.insert(0, "fold", range(folds.k))
    table.insert(1, "groups", folds.signatures)
    logger.report_table(title="cv folds", series="cv", iteration=0, table_plot=table)
    task.upload_artifact(
        "cv_folds", {"k": folds.k, "signatures": folds.signatures, "scores": folds.scores}, wait_on_upload=True
    )


def cpu_threads() -> int:
    """CPU threads this process may use (the affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
