"""Reading, validating and splitting a user's table, and parsing the demo archive (no server)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from hpo.data import Columns, _demo, group_split, normalise, read_table
from hpo.errors import ConfigError, HPOError
from tests.support.data import review_frame, write_reviews

COLUMNS = Columns(text="sentence", label="sentiment", group="review")


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_read_table_reads_each_format(tmp_path: Path, suffix: str) -> None:
    path = write_reviews(tmp_path / f"reviews{suffix}", reviews=5)
    table = normalise(read_table(path), COLUMNS, str(path))
    assert list(table.columns) == ["text", "label", "group"]
    assert len(table) == 15
    assert set(table["label"]) == {"pos", "neg"}


def test_read_table_empty_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        read_table(path)


def test_read_table_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    with pytest.raises(ConfigError, match=r"\.csv, \.tsv or \.parquet"):
        read_table(path)


@pytest.mark.parametrize(
    ("columns", "option"),
    [(Columns(text="body", label="sentiment"), "--text-col"), (Columns(text="sentence", label="stars"), "--label-col")],
)
def test_normalise_missing_column_names_option(columns: Columns, option: str) -> None:
    with pytest.raises(ConfigError, match=f"no column .* {option}"):
        normalise(review_frame(reviews=3), columns, "f.csv")


def test_normalise_single_class() -> None:
    frame = review_frame(reviews=5).assign(sentiment="pos")
    with pytest.raises(ConfigError, match="single class"):
        normalise(frame, COLUMNS, "f.csv")


def test_normalise_header_only_has_no_rows() -> None:
    with pytest.raises(ConfigError, match="no rows"):
        normalise(review_frame(reviews=3).iloc[0:0], COLUMNS, "f.csv")


def test_normalise_drops_rows_without_text() -> None:
    frame = review_frame(reviews=5)
    frame.loc[0, "sentence"] = "  "
    assert len(normalise(frame, COLUMNS, "f.csv")) == 14


def test_normalise_rejects_unknown_split_values() -> None:
    frame = review_frame(reviews=4).assign(split="train")
    frame.loc[0, "split"] = "dev"
    with pytest.raises(ConfigError, match="'dev'"):
        normalise(frame, COLUMNS, "f.csv")


def test_normalise_keeps_a_given_split() -> None:
    frame = review_frame(reviews=6)
    frame["split"] = ["train"] * 12 + ["validation"] * 3 + ["test"] * 3
    table = normalise(frame, COLUMNS, "f.csv")
    assert table["split"].value_counts().to_dict() == {"train": 12, "validation": 3, "test": 3}


def test_group_split_keeps_groups_together_and_is_seeded() -> None:
    table = normalise(review_frame(reviews=60), COLUMNS, "f.csv")
    first = group_split(table, seed=1)
    assert first.groupby("group")["split"].nunique().max() == 1
    assert set(first["split"]) == {"train", "validation", "test"}
    assert first["split"].tolist() == group_split(table, seed=1)["split"].tolist()
    assert first["split"].tolist() != group_split(table, seed=2)["split"].tolist()
    assert 0.7 < (first["split"] == "train").mean() < 0.9


def test_group_split_too_few_groups() -> None:
    table = normalise(review_frame(reviews=2), COLUMNS, "f.csv")
    with pytest.raises(ConfigError, match="2 group"):
        group_split(table)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_parse_snippets_from_an_archive_in_the_sdist_format(tmp_path: Path) -> None:
    snippets = "1_1\t-0.9\tno picture at all.\n1_2\t0.1\tneutral words.\n1_3\t0.5\tworks.\n\n2_1\t2.75\tgreat buy!\n"
    inner = _tar_gz({"hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt": snippets.encode()})
    sdist = tmp_path / "vaderSentiment-3.3.2.tar.gz"
    sdist.write_bytes(_tar_gz({"vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz": inner}))
    frame = _demo.parse_snippets(sdist)
    expected = pd.DataFrame(
        {
            "text": ["no picture at all.", "works.", "great buy!"],
            "label": ["negative", "positive", "positive"],
            "group": ["1", "1", "2"],
            "score": [-0.9, 0.5, 2.75],
        }
    )
    pd.testing.assert_frame_equal(frame, expected)


def test_fetch_sdist_rejects_a_wrong_checksum(tmp_path: Path) -> None:
    (tmp_path / _demo.SDIST_NAME).write_bytes(b"not the sdist")
    with pytest.raises(HPOError, match="sha256"):
        _demo.fetch_sdist(tmp_path)
