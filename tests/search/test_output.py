"""Where trial clones upload: the rule for each clone, and the check of --output-uri before launch."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.errors import ConfigError
from hpo.search._output import OutputTarget, check_output_uri, clone_destination, output_target
from tests.support.server import free_port

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
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot write there"):
        check_output_uri(f"file://{blocked}/sub")


def test_output_target_on_the_embedded_default_sets_nothing() -> None:
    assert output_target(None, embedded=True) == OutputTarget()
