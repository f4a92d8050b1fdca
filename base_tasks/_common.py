"""Helpers the base tasks share: reading a dataset version, scoring and reporting a split.

Kept free of ``from __future__`` imports and of anything but clearml, pandas and scikit-learn:
``hpo register`` inlines this file into each template at its import line, so that a template is
one self-contained script on any agent.
"""

import os
from pathlib import Path

import pandas as pd
from clearml import Dataset, Logger, OutputModel
from sklearn.metrics import accuracy_score, classification_report, f1_score

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


def cpu_threads() -> int:
    """CPU threads this process may use (the affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
