"""Artifacts through the real clearml SDK: uploaded to the embedded file server, read back elsewhere."""

from __future__ import annotations

from tests.support.server import Env

# A project and task name that need percent-encoding in download URLs ("#" becomes "%23" in the
# object path, then "%2523" in the URL).
UPLOAD = """
import json
import numpy as np
import pandas as pd
from clearml import Task

task = Task.init(project_name="art proj", task_name="t #1", output_uri=True)
df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, 2.5]})
task.upload_artifact("frame", df)
task.upload_artifact("array", np.arange(12, dtype=np.int64).reshape(3, 4))
task.upload_artifact("mapping", {"k": 1, "nested": {"v": [1, 2]}})
with open("notes.txt", "w") as f:
    f.write("plain file content\\n")
task.upload_artifact("file", "notes.txt")
task.flush(wait_for_uploads=True)
print("RESULT " + json.dumps({"id": task.id}))
task.close()
"""

READ = """
import json, sys
from pathlib import Path
from clearml import Task

task = Task.get_task(task_id=sys.argv[1])
arts = task.artifacts
frame, array, mapping = arts["frame"].get(), arts["array"].get(), arts["mapping"].get()
file_copy = arts["file"].get_local_copy()
print("RESULT " + json.dumps({
    "names": sorted(arts),
    "types": {k: v.type for k, v in arts.items()},
    "urls": {k: v.url for k, v in arts.items()},
    "frame": {"columns": list(frame.columns), "rows": frame.astype(str).values.tolist()},
    "array": {"dtype": str(array.dtype), "shape": list(array.shape), "values": array.tolist()},
    "mapping": mapping,
    "file_get": Path(arts["file"].get()).read_text(),
    "file_copy": Path(file_copy).read_text(),
    "frame_copy_suffix": "".join(Path(arts["frame"].get_local_copy()).suffixes[-2:]),
    "frame_copy_size": Path(arts["frame"].get_local_copy()).stat().st_size,
    "sizes": {k: v.size for k, v in arts.items()},
}))
"""


def test_artifacts_uploaded_then_read_from_another_process(clearml: Env) -> None:
    task_id = clearml.run(UPLOAD).result["id"]
    out = clearml.run(READ, task_id).result

    assert out["names"] == ["array", "file", "frame", "mapping"]
    assert out["types"] == {"frame": "pandas", "array": "numpy", "mapping": "dict", "file": "custom"}
    assert all(url.startswith(clearml.vars["CLEARML_FILES_HOST"] + "/art%20proj/") for url in out["urls"].values())
    assert out["frame"] == {
        "columns": ["a", "b", "c"],
        "rows": [["1", "x", "0.5"], ["2", "y", "1.5"], ["3", "z", "2.5"]],
    }
    assert out["array"] == {
        "dtype": "int64",
        "shape": [3, 4],
        "values": [list(range(r * 4, r * 4 + 4)) for r in range(3)],
    }
    assert out["mapping"] == {"k": 1, "nested": {"v": [1, 2]}}
    assert out["file_get"] == out["file_copy"] == "plain file content\n"
    assert out["frame_copy_suffix"] == ".csv.gz"
    assert out["frame_copy_size"] == out["sizes"]["frame"]

    stored = clearml.server.data_dir / "files" / "art proj"
    (task_dir,) = stored.iterdir()
    assert task_dir.name == f"t %231.{task_id}"
    assert (task_dir / "artifacts" / "file" / "notes.txt").read_text() == "plain file content\n"
