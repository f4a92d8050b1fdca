"""Reading a user's table and checking that it can become a dataset version.

Every dataset version the suite registers holds the same files: ``train.csv``, ``validation.csv``
and ``test.csv``, each with the columns ``text``, ``label`` and ``group`` (rows of one group, e.g.
the sentences of one review, always share a split). The base tasks read exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hpo._extras import require_extra
from hpo.errors import ConfigError

TEXT, LABEL, GROUP, SPLIT = "text", "label", "group", "split"
SPLITS = ("train", "validation", "test")
COLUMNS = (TEXT, LABEL, GROUP)

_READERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


@dataclass(frozen=True)
class Columns:
    """Which of the user's columns hold what; ``group``/``split`` are optional."""

    text: str = TEXT
    label: str = LABEL
    group: str | None = None
    split: str = SPLIT


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file (chosen by its suffix).

    Raises:
        ConfigError: The file is missing, empty, of an unknown type or unreadable.
    """
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; pass the path of a CSV, TSV or Parquet file")
    if path.stat().st_size == 0:
        raise ConfigError(f"{path} is empty; it needs a header row and at least two classes of rows")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            require_extra("pyarrow", "parquet", f"reading {path}")
            return pd.read_parquet(path)
        if suffix in _READERS:
            return pd.read_csv(path, sep=_READERS[suffix], dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise ConfigError(f"cannot read {path}: {err}; check that it is a valid {suffix[1:]} file") from err
    raise ConfigError(f"{path}: unknown file type {suffix!r}; use .csv, .tsv or .parquet")


def _clean_labels(values: pd.Series) -> pd.Series:
    # Integral floats (a Parquet column with NaN turns ints into floats) read back as "1", not "1.0".
    def text(value: object) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return values.map(text)


def normalise(frame: pd.DataFrame, columns: Columns, source: str) -> pd.DataFrame:
    """The user's table as ``text``, ``label``, ``group`` (and ``split`` when it had one).

    Rows without text or label are dropped. ``group`` defaults to one group per row.

    Raises:
        ConfigError: A column is missing, no rows are left, only one class is present or the
            split column holds unknown values.
    """
    wanted = {"--text-col": columns.text, "--label-col": columns.label}
    if columns.group:
        wanted["--group-col"] = columns.group
    available = ", ".join(map(str, frame.columns)) or "none"
    for option, name in wanted.items():
        if name not in frame.columns:
            raise ConfigError(
                f"{source} has no column {name!r} (columns: {available}); name the right one with {option}"
            )
    out = pd.DataFrame(
        {
            TEXT: frame[columns.text].astype("string").str.strip(),
            LABEL: frame[columns.label],
            GROUP: frame[columns.group].astype(str) if columns.group else pd.Series(range(len(frame))).astype(str),
        }
    )
    if columns.split in frame.columns:
        out[SPLIT] = frame[columns.split].astype("string").str.strip().str.lower()
    out = out[out[TEXT].notna() & (out[TEXT] != "") & out[LABEL].notna()].reset_index(drop=True)
    if out.empty:
        raise ConfigError(
            f"{source} has no rows with both text and a label; fill {columns.text!r} and {columns.label!r}"
        )
    out[TEXT] = out[TEXT].astype(str)
    out[LABEL] = _clean_labels(out[LABEL])
    classes = sorted(out[LABEL].unique())
    if len(classes) < 2:
        raise ConfigError(
            f"{source} has a single class ({classes[0]!r}) in {columns.label!r}; a classifier needs at least two"
            " (is --label-col the right column?)"
        )
    if SPLIT in out.columns:
        check_splits(out, source)
    return out


def check_splits(frame: pd.DataFrame, source: str) -> None:
    """Check a ``split`` column: known values, and train/validation present with two classes in train.

    Raises:
        ConfigError: The split column cannot be used as is.
    """
    unknown = sorted(set(frame[SPLIT].dropna().unique()) - set(SPLITS))
    if unknown or frame[SPLIT].isna().any():
        shown = ", ".join(map(repr, unknown)) or "empty values"
        raise ConfigError(
            f"{source}: column {SPLIT!r} holds {shown}; use only {', '.join(SPLITS)}"
            f" (or drop the column to let the suite split the rows)"
        )
    for name in ("train", "validation"):
        if not (frame[SPLIT] == name).any():
            raise ConfigError(f"{source}: no rows in split {name!r}; add some, or drop column {SPLIT!r} to split")
    if frame.loc[frame[SPLIT] == "train", LABEL].nunique() < 2:
        raise ConfigError(f"{source}: the train split holds a single class; it needs at least two")


__all__ = ["COLUMNS", "GROUP", "LABEL", "SPLIT", "SPLITS", "TEXT", "Columns", "check_splits", "normalise", "read_table"]
