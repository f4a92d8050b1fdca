"""A small labelled text table the data and template tests build (no download)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

POSITIVE = ["great", "excellent", "love", "works well", "fantastic", "happy with", "recommend", "solid"]
NEGATIVE = ["broken", "terrible", "hate", "stopped working", "awful", "returned", "waste of money", "junk"]
THINGS = ["player", "camera", "router", "phone", "battery", "screen", "remote", "speaker"]


def review_frame(reviews: int = 40, sentences: int = 3, seed: int = 0) -> pd.DataFrame:
    """``reviews`` reviews of ``sentences`` sentences, each clearly positive or negative."""
    rng = random.Random(seed)
    rows = []
    for review in range(reviews):
        for sentence in range(sentences):
            positive = rng.random() < 0.5
            word = rng.choice(POSITIVE if positive else NEGATIVE)
            rows.append(
                {
                    "review": f"r{review}",
                    "sentence": f"the {rng.choice(THINGS)} is {word} {rng.choice(THINGS)} {sentence}",
                    "sentiment": "pos" if positive else "neg",
                }
            )
    return pd.DataFrame(rows)


def write_reviews(path: Path, **kwargs: int) -> Path:
    """The review table written as CSV, TSV or Parquet, by the suffix of ``path``."""
    frame = review_frame(**kwargs)
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


@dataclass
class CLIResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def hpo_cli(env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 180) -> CLIResult:
    """Run the ``hpo`` command line in a fresh interpreter with ``env``."""
    proc = subprocess.run(
        [sys.executable, "-c", "from hpo.cli import main; main()", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CLIResult(proc.returncode, proc.stdout, proc.stderr)


def add_reviews(
    env: dict[str, str], path: Path, *extra: str, name: str = "Amazon reviews dataset", version: str = "1.0.0"
) -> CLIResult:
    """``hpo data add`` of the review fixture (by default under the demo's name, which the base tasks read)."""
    return hpo_cli(
        env,
        "data",
        "add",
        str(path),
        "--name",
        name,
        "--project",
        "Amazon reviews",
        "--text-col",
        "sentence",
        "--label-col",
        "sentiment",
        "--group-col",
        "review",
        "--version",
        version,
        "--json",
        *extra,
    )
