"""Seeded train/validation/test split by group: no group's rows straddle two splits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hpo.data._table import GROUP, SPLIT, SPLITS, check_splits
from hpo.errors import ConfigError

DEFAULT_SEED = 20240
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def group_split(
    frame: pd.DataFrame, seed: int = DEFAULT_SEED, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> pd.DataFrame:
    """Add a ``split`` column, assigning whole groups in a seeded random order.

    Groups are shuffled, then filled into train, validation and test until each split holds its
    fraction of the rows; every split gets at least one group.

    Args:
        frame: Rows with a ``group`` column.
        seed: Seed of the shuffle; the same frame and seed give the same split.
        fractions: Shares of train, validation and test rows; they must sum to 1.

    Raises:
        ConfigError: Fewer than three groups, or a split left without two classes in train.
    """
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise ConfigError(f"split fractions must be positive and sum to 1, got {fractions}")
    sizes = frame.groupby(GROUP, sort=True).size()
    if len(sizes) < len(SPLITS):
        raise ConfigError(
            f"cannot split {len(sizes)} group(s) into {len(SPLITS)} splits; add rows or provide a 'split' column"
        )
    order = np.random.default_rng(seed).permutation(len(sizes))
    groups = sizes.index[order]
    cumulative = np.cumsum(sizes.to_numpy()[order])
    bounds = np.cumsum(fractions)[:-1] * cumulative[-1]
    # A group lands in the split whose row budget its first row falls into.
    starts = cumulative - sizes.to_numpy()[order]
    index = np.searchsorted(bounds, starts, side="right")
    # Keep every split non-empty: the last groups go to the splits that got none.
    for split in range(len(SPLITS)):
        if not (index == split).any():
            donor = int(np.bincount(index, minlength=len(SPLITS)).argmax())
            index[np.flatnonzero(index == donor)[-1 if split > donor else 0]] = split
    assignment = dict(zip(groups, (SPLITS[i] for i in index), strict=True))
    out = frame.copy()
    out[SPLIT] = out[GROUP].map(assignment)
    check_splits(out, "the split data")
    return out


__all__ = ["DEFAULT_FRACTIONS", "DEFAULT_SEED", "group_split"]
