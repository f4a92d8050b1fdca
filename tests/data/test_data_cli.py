"""``hpo data add`` / ``hpo data list`` with the real SDK against a started embedded server."""

from __future__ import annotations

from pathlib import Path

from tests.support.data import add_reviews, hpo_cli, review_frame, write_reviews
from tests.support.server import Env, free_port


def _listed(clearml: Env) -> list[dict]:
    result = hpo_cli(clearml.vars, "data", "list", "--json")
    assert result.returncode == 0, result.stderr
    return result.json()


def test_data_add_registers_reuses_and_versions(clearml: Env, tmp_path: Path) -> None:
    path = write_reviews(tmp_path / "reviews.csv", reviews=20)
    first = add_reviews(clearml.vars, path, name="Reviews")
    assert first.returncode == 0, first.stderr
    v1 = first.json()
    assert v1["reused"] is False and v1["parent"] is None
    assert sum(v1["rows"].values()) == 60

    again = add_reviews(clearml.vars, path, name="Reviews")
    assert again.returncode == 0, again.stderr
    assert again.json()["id"] == v1["id"] and again.json()["reused"] is True

    bigger = write_reviews(tmp_path / "reviews2.parquet", reviews=25)
    conflict = add_reviews(clearml.vars, bigger, name="Reviews")
    assert conflict.returncode == 1
    stderr = " ".join(conflict.stderr.split())
    assert "already exists with other content" in stderr and "--version" in stderr

    second = add_reviews(clearml.vars, bigger, name="Reviews", version="1.1.0")
    assert second.returncode == 0, second.stderr
    assert second.json()["parent"] == v1["id"]

    listed = _listed(clearml)
    assert [(d["name"], d["version"], sum(d["rows"].values())) for d in listed] == [
        ("Reviews", "1.1.0", 75),
        ("Reviews", "1.0.0", 60),
    ]

    script = """
        import json
        from clearml import Dataset
        ds = Dataset.get(dataset_name="Reviews", dataset_project="Amazon reviews", dataset_version="1.1.0")
        print("RESULT " + json.dumps({"id": ds.id, "files": sorted(ds.list_files()), "meta": ds.get_metadata()}))
    """
    out = clearml.run(script).result
    assert out["id"] == second.json()["id"]
    assert out["files"] == ["test.csv", "train.csv", "validation.csv"]
    assert out["meta"]["split"] == "by group" and isinstance(out["meta"]["seed"], int)


def test_data_add_keeps_a_given_split(clearml: Env, tmp_path: Path) -> None:
    frame = review_frame(reviews=6)
    frame["split"] = ["train"] * 12 + ["validation"] * 3 + ["test"] * 3
    frame.to_csv(tmp_path / "split.tsv", sep="\t", index=False)
    result = add_reviews(clearml.vars, tmp_path / "split.tsv", name="Given")
    assert result.returncode == 0, result.stderr
    assert result.json()["rows"] == {"train": 12, "validation": 3, "test": 3}


def test_data_add_errors_register_nothing(clearml: Env, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    single = tmp_path / "single.csv"
    review_frame(reviews=5).assign(sentiment="pos").to_csv(single, index=False)
    cases = {
        "is empty": (empty, ()),
        "single class": (single, ()),
        "has no column 'body'": (write_reviews(tmp_path / "r.csv", reviews=5), ("--text-col", "body")),
    }
    for message, (path, extra) in cases.items():
        result = add_reviews(clearml.vars, path, *extra, name="Broken")
        assert result.returncode == 1, (message, result.stdout)
        assert "[error]" in result.stderr and message in " ".join(result.stderr.split())
        assert "Traceback" not in result.stderr
    assert _listed(clearml) == []


def test_data_add_failed_upload_leaves_no_dataset(clearml: Env, tmp_path: Path) -> None:
    # The API server answers on any path, but refuses uploads there: create() fails mid-way.
    env = {**clearml.vars, "CLEARML_FILES_HOST": clearml.vars["CLEARML_API_HOST"] + "/nofiles"}
    result = add_reviews(env, write_reviews(tmp_path / "r.csv", reviews=10), name="Half")
    assert result.returncode == 1
    assert "[error] creating dataset 'Half' version 1.0.0 failed" in " ".join(result.stderr.split())
    left = clearml.run(
        """
        import json
        from clearml import Dataset
        print("RESULT " + json.dumps([d["id"] for d in Dataset.list_datasets(only_completed=False)]))
        """
    ).result
    assert left == []


def test_data_add_unreachable_files_server_fails_fast(clearml: Env, tmp_path: Path) -> None:
    env = {**clearml.vars, "CLEARML_FILES_HOST": f"http://127.0.0.1:{free_port()}/files"}
    result = add_reviews(env, write_reviews(tmp_path / "r.csv", reviews=10), name="Nowhere")
    assert result.returncode == 1
    assert "files server" in result.stderr and "does not answer" in " ".join(result.stderr.split())
    assert _listed(clearml) == []
