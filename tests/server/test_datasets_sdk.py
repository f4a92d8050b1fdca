"""``clearml.Dataset`` through the real SDK against a started embedded server.

Each dataset is written by one SDK process and read back by another, so everything the reader
sees went through the server: hidden ``P/.datasets/NAME`` projects, the dataset task's system
tags and ``runtime.version``, the ``state.json`` artifact and the zipped files on the file server.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.support.server import Env

CREATE = """
import json, sys
from clearml import Dataset
name, version, folder = sys.argv[1:4]
parents = sys.argv[4:] or None
ds = Dataset.create(dataset_name=name, dataset_project="P", dataset_version=version, parent_datasets=parents)
ds.add_files(folder)
ds.upload()
ds.finalize()
print("RESULT " + json.dumps({"id": ds.id}))
"""

# Prints the version, id and {relative path: sha256} of a dataset's local copy.
READ = """
import hashlib, json, os, sys
from clearml import Dataset
version = sys.argv[1] if len(sys.argv) > 1 else None
ds = Dataset.get(dataset_name="D", dataset_project="P", dataset_version=version)
root = ds.get_local_copy()
files = {}
for folder, _, names in os.walk(root):
    for name in names:
        path = os.path.join(folder, name)
        files[os.path.relpath(path, root)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
print("RESULT " + json.dumps({"id": ds.id, "version": ds.version, "files": files}))
"""


def _write(folder: Path, files: dict[str, bytes]) -> dict[str, str]:
    """Write ``files`` under ``folder``; returns their sha256 by relative path."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


def test_dataset_created_in_one_process_is_read_back_by_another(clearml: Env) -> None:
    source = clearml.root / "source"
    expected = _write(
        source,
        {"a.txt": b"hello\n", "sub/b.txt": b"world\n", "sub/deeper/c.bin": bytes(range(256)) * 400},
    )
    created = clearml.run(CREATE, "D", "1.0.0", str(source)).result

    read = clearml.run(READ, "1.0.0").result
    assert read["id"] == created["id"]
    assert read["files"] == expected

    latest = clearml.run(READ).result
    assert (latest["id"], latest["version"]) == (created["id"], "1.0.0")

    listed = clearml.run(
        """
        import json
        from clearml import Dataset
        print("RESULT " + json.dumps(Dataset.list_datasets(dataset_project="P"), default=str))
        """
    ).result
    assert [(d["id"], d["name"], d["version"], d["project"]) for d in listed] == [(created["id"], "D", "1.0.0", "P")]


def test_dataset_get_missing_version_raises(clearml: Env) -> None:
    source = clearml.root / "source"
    _write(source, {"a.txt": b"a"})
    clearml.run(CREATE, "D", "1.0.0", str(source))
    missing = clearml.run(
        """
        import json
        from clearml import Dataset
        try:
            Dataset.get(dataset_name="D", dataset_project="P", dataset_version="9.9.9")
            error = None
        except ValueError as err:
            error = str(err)
        print("RESULT " + json.dumps({"error": error}))
        """
    ).result
    assert missing["error"] is not None
    assert "9.9.9" in missing["error"]


def test_dataset_child_version_holds_parent_files_plus_change(clearml: Env) -> None:
    parent_dir, child_dir = clearml.root / "parent", clearml.root / "child"
    parent_files = _write(parent_dir, {"a.txt": b"v1\n", "keep/b.txt": b"kept\n"})
    changed = _write(child_dir, {"a.txt": b"v2, changed\n"})
    parent = clearml.run(CREATE, "D", "1.0.0", str(parent_dir)).result
    child = clearml.run(CREATE, "D", "1.1.0", str(child_dir), parent["id"]).result

    read_child = clearml.run(READ, "1.1.0").result
    assert read_child["id"] == child["id"]
    assert read_child["files"] == {**parent_files, **changed}

    read_parent = clearml.run(READ, "1.0.0").result
    assert read_parent["files"] == parent_files

    latest = clearml.run(READ).result
    assert (latest["id"], latest["version"]) == (child["id"], "1.1.0")


def test_dataset_lives_in_hidden_project_with_tagged_task_and_state_artifact(clearml: Env) -> None:
    source = clearml.root / "source"
    _write(source, {"a.txt": b"hello\n"})
    created = clearml.run(CREATE, "D", "2.0.0", str(source)).result
    seen = clearml.run(
        f"""
        import json
        from clearml.backend_api.session.client import APIClient
        client = APIClient()
        task = client.tasks.get_all(id=["{created["id"]}"])[0]
        hidden = client.projects.get_all(search_hidden=True)
        print("RESULT " + json.dumps({{
            "visible": sorted(p.name for p in client.projects.get_all()),
            "hidden": {{p.name: p.system_tags for p in hidden}},
            "task_project": task.project,
            "project_ids": {{p.name: p.id for p in hidden}},
            "system_tags": task.system_tags,
            "type": str(task.type),
            "status": str(task.status),
            "version": task.runtime.get("version"),
            "artifacts": [{{"key": a.key, "uri": a.uri, "hash": a.hash}} for a in task.execution.artifacts],
            "tagged": [t.id for t in client.tasks.get_all(
                system_tags=["__$all", "dataset", "__$not", "archived"], search_hidden=True)],
        }}))
        """
    ).result
    assert seen["visible"] == ["P"]
    assert "hidden" in seen["hidden"]["P/.datasets"]
    assert {"hidden", "dataset"} <= set(seen["hidden"]["P/.datasets/D"])
    assert seen["task_project"] == seen["project_ids"]["P/.datasets/D"]
    assert "dataset" in seen["system_tags"]
    assert (seen["type"], seen["status"], seen["version"]) == ("data_processing", "completed", "2.0.0")
    assert seen["tagged"] == [created["id"]]

    # state.json is uploaded several times; the registered artifact must describe the bytes stored last.
    state = next(a for a in seen["artifacts"] if a["key"] == "state")
    assert state["uri"].startswith(clearml.server.files_url + "/P/.datasets/D/")
    stored = clearml.server.data_dir / "files" / state["uri"][len(clearml.server.files_url) + 1 :]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == state["hash"]
    assert any(a["key"].startswith("data") for a in seen["artifacts"])
