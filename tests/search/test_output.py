"""Where trial clones upload: the rule for each clone, and the check of --output-uri before launch."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.errors import ConfigError
from hpo.search._output import OutputTarget, check_output_uri, clone_destination, output_target
from tests.support.search import SearchEnv
from tests.support.server import free_port

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

FILES = "http://files:8081"


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        (None, OutputTarget(), None),  # embedded default: the SDK config's default store
        ("s3://own", OutputTarget(), None),
        (None, OutputTarget(FILES), FILES),  # a real server: its files host
        ("s3://own", OutputTarget(FILES), None),  # the script's own store stays
        ("s3://own", OutputTarget("gs://b/p", explicit=True), "gs://b/p"),  # --output-uri wins
        ("gs://b/p", OutputTarget("gs://b/p", explicit=True), None),  # already so
    ],
)
def test_clone_destination(current: str | None, target: OutputTarget, expected: str | None) -> None:
    assert clone_destination(current, target) == expected


def test_check_output_uri_refuses_an_http_server_nobody_runs() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(ConfigError, match=r"--output-uri http://127\.0\.0\.1:\d+: no server answers .*; fix"):
        check_output_uri(url, timeout=2)


def test_check_output_uri_writes_a_test_file_to_a_folder(tmp_path: Path) -> None:
    assert check_output_uri(f"{tmp_path}/") == str(tmp_path)
    assert list(tmp_path.iterdir()) == []  # the SDK's test file is deleted again
    with pytest.raises(ConfigError, match="no such folder; create it where every worker mounts it"):
        check_output_uri(f"file://{tmp_path}/missing")


@pytest.mark.parametrize(
    ("uri", "problem"),
    [("s3://no-such-bucket/x", "no credentials or driver for this store"), ("foo://bar", "cannot write there")],
)
def test_check_output_uri_refuses_a_store_the_sdk_cannot_write(uri: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"--output-uri {uri}: {problem}"):
        check_output_uri(uri)


def test_output_target_on_the_embedded_default_sets_nothing() -> None:
    assert output_target(None, embedded=True) == OutputTarget()


DESTINATIONS = """
import json, sys
from clearml import Task
print("RESULT " + json.dumps({i: Task.get_task(task_id=i).data.output.destination for i in sys.argv[1:]}))
"""


def test_search_clones_upload_to_the_files_host_or_output_uri(search_env: SearchEnv, tmp_path: Path) -> None:
    """Against a configured server (the test's is not this machine's embedded default) each trial
    uploads to the server's files host, or to --output-uri when given."""
    space = search_env.space(trials=1, concurrency=1)
    first = search_env.search(space, "--local-workers", "1", "--study", "files-host")
    store = tmp_path / "store"
    store.mkdir()
    second = search_env.search(space, "--local-workers", "1", "--study", "own", "--output-uri", str(store))
    ids = [search_env.study(s["study"])[0]["attrs"]["task_id"] for s in (first, second)]
    found = search_env.env.run(DESTINATIONS, *ids).result
    assert found[ids[0]] == search_env.env.vars["CLEARML_FILES_HOST"]
    assert found[ids[1]] in (str(store), f"file://{store}")


def test_search_refuses_an_unreachable_output_uri_before_launch(search_env: SearchEnv) -> None:
    space = search_env.space(trials=1)
    run = search_env.hpo(
        "search", str(space), "--local-workers", "1", "--output-uri", f"http://127.0.0.1:{free_port()}"
    )
    assert run.returncode == 1
    assert "--output-uri http://127.0.0.1:" in run.stderr and "no server answers" in run.stderr, run.stderr
    assert search_env.study_so_far(space.stem) == [] and search_env.trials() == []
