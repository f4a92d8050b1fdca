"""Units of "every champion is its own weights": where weights may live, their hash, the loaders, and the
default ``output_uri`` that the embedded server's SDK and agent configurations hand out."""

from __future__ import annotations

import hashlib
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from hpo.agents._config import write_agent_config
from hpo.connection import config_values, sdk_config_file
from hpo.errors import ConfigError, HPOError
from hpo.local_server import RunningServer
from hpo.promotion import _loaders
from hpo.promotion._weights import digest, is_shared, local_path_of, refusal, verify

OUTPUT_URI = "sdk.development.default_output_uri"
FILES = "http://127.0.0.1:8008/files"


@pytest.mark.parametrize(
    ("url", "destination", "shared"),
    [
        ("http://127.0.0.1:8008/files/P/t.abc/models/model.pkl", None, True),
        ("s3://bucket/P/t.abc/models/model.pkl", None, True),
        ("gs://bucket/model.pkl", "gs://bucket", True),
        # the agent's code folder: where a script without output_uri leaves its file
        ("file:///home/u/.hpo/agents/hpo-0/venvs.1/code/model.pkl", None, False),
        ("/home/u/.hpo/agents/hpo-0/venvs.1/code/model.pkl", None, False),
        ("file:///home/u/code/model.pkl", "http://127.0.0.1:8008/files", False),
        # a shared folder given as output_uri: the SDK copies into a folder per task there
        ("file:///mnt/share/P/t.abc/models/model.pkl", "/mnt/share", True),
        ("file:///mnt/share/P/t.abc/models/model.pkl", "file:///mnt/share/", True),
        ("file:///mnt/shared-other/model.pkl", "/mnt/share", False),
        ("file:///tmp/model%20v2.pkl", "/tmp/model", False),
        ("", None, False),
    ],
)
def test_is_shared_only_for_stores_every_machine_reads(url: str, destination: str | None, shared: bool) -> None:
    assert is_shared(url, destination) is shared


def test_local_path_of_decodes_file_urls() -> None:
    assert local_path_of("file:///a/b%20c/m.pkl") == Path("/a/b c/m.pkl")
    assert local_path_of("https://h/files/m.pkl") is None


def test_refusal_names_trial_task_path_and_fix() -> None:
    message = refusal(7, "abc123", "file:///w/venvs.1/code/model.pkl")
    assert message.startswith("trial 7 (task abc123): its weights are the local file /w/venvs.1/code/model.pkl")
    assert "output_uri=True" in message and "hpo search --output-uri" in message


def test_digest_of_a_file_and_of_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "m.pkl"
    file.write_bytes(b"weights")
    assert digest(file) == hashlib.sha256(b"weights").hexdigest()
    folder = tmp_path / "bert"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "sub" / "w.bin").write_bytes(b"1")
    before = digest(folder)
    (folder / "sub" / "w.bin").write_bytes(b"2")
    assert digest(folder) != before
    (folder / "sub" / "w.bin").write_bytes(b"1")
    assert digest(folder) == before
    (folder / "sub" / "w.bin").rename(folder / "w.bin")  # same bytes, another name
    assert digest(folder) != before


def test_verify_raises_on_mismatch_and_skips_unrecorded(tmp_path: Path) -> None:
    file = tmp_path / "m.pkl"
    file.write_bytes(b"weights")
    verify("m1", file, digest(file))
    verify("m1", file, None)  # promoted before hashes were recorded
    with pytest.raises(HPOError, match="model m1: the weights downloaded to .* was recorded when it was promoted"):
        verify("m1", file, "0" * 64)


def test_sklearn_predict_uses_the_objects_own_methods(tmp_path: Path) -> None:
    X, y = load_digits(return_X_y=True)
    svc = SVC(C=10.0, gamma=0.001).fit(X[:300], y[:300])
    path = tmp_path / "model.pkl"
    joblib.dump(svc, path)
    kind = _loaders.kind_of("", path)
    loaded = _loaders.load(kind, path)
    out = _loaders.predict(kind, loaded, X[300:310])
    assert [p.label for p in out] == [int(v) for v in svc.predict(X[300:310])]
    assert all(p.probabilities is None for p in out) and all(type(p.label) is int for p in out)
    logistic = LogisticRegression(max_iter=200).fit(X[:300], y[:300])
    [first] = _loaders.predict(_loaders.SKLEARN, logistic, X[300:301])
    assert first.probabilities is not None and sum(first.probabilities.values()) == pytest.approx(1.0)
    assert set(first.probabilities) == {str(c) for c in range(10)}
    assert _loaders.predict(_loaders.SKLEARN, logistic, []) == []


def test_other_frameworks_are_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"torch")
    with pytest.raises(ConfigError, match=r"framework 'PyTorch'.*PyTorch's own loader from BestModel.local_path\(\)"):
        _loaders.kind_of("PyTorch", path)
    with pytest.raises(ConfigError, match="has no predict"):
        _loaders.predict(_loaders.SKLEARN, object(), [1])


def test_sdk_config_sends_models_to_the_files_server(tmp_path: Path) -> None:
    folder = tmp_path / "sdk"
    config = sdk_config_file(folder, {"HOME": str(tmp_path)}, files_host=FILES)
    assert config_values(config, OUTPUT_URI) == {OUTPUT_URI: FILES}
    assert "report_use_subprocess: false" in config.read_text()
    # A shell that ran `eval "$(hpo server env)"` gets the same file back.
    assert sdk_config_file(folder, {"CLEARML_CONFIG_FILE": str(config)}, files_host=FILES) == config


def test_sdk_config_keeps_the_users_own_default_output_uri(tmp_path: Path) -> None:
    own = tmp_path / "own.conf"
    own.write_text('sdk { development { default_output_uri: "s3://team-bucket/models" } }\n')
    config = sdk_config_file(tmp_path / "sdk", {"CLEARML_CONFIG_FILE": str(own)}, files_host=FILES)
    assert config_values(config, OUTPUT_URI) == {OUTPUT_URI: "s3://team-bucket/models"}


def test_sdk_config_rebuilds_an_older_generated_file(tmp_path: Path) -> None:
    own = tmp_path / "own.conf"
    own.write_text("sdk { x: 7 }\n")
    folder = tmp_path / "sdk"
    older = sdk_config_file(folder, {"CLEARML_CONFIG_FILE": str(own)})  # before default_output_uri existed
    assert config_values(older, OUTPUT_URI) == {}
    config = sdk_config_file(folder, {"CLEARML_CONFIG_FILE": str(older)}, files_host=FILES)
    assert config_values(config, OUTPUT_URI, "sdk.x") == {OUTPUT_URI: FILES, "sdk.x": "7"}
    assert config.read_text().count("include") == 1  # the user's file, not the older generated one


def test_hpo_server_env_hands_out_the_files_server_as_default_output_uri(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "server", pid=0, host="127.0.0.1", port=18008)
    env = server.env({"HOME": str(tmp_path)})
    assert env["CLEARML_FILES_HOST"] == "http://127.0.0.1:18008/files"
    assert config_values(Path(env["CLEARML_CONFIG_FILE"]), OUTPUT_URI) == {OUTPUT_URI: env["CLEARML_FILES_HOST"]}


def test_agent_config_sets_the_default_output_uri_unless_the_user_did(tmp_path: Path) -> None:
    plain = write_agent_config(tmp_path / "a", "host:hpo-0", [], 2.0, FILES)
    assert config_values(plain, OUTPUT_URI, "agent.worker_id") == {OUTPUT_URI: FILES, "agent.worker_id": "host:hpo-0"}
    own = tmp_path / "own.conf"
    own.write_text('sdk { development { default_output_uri: "/mnt/share" } }\n')
    kept = write_agent_config(tmp_path / "b", "host:hpo-1", [own], 2.0, FILES)
    assert config_values(kept, OUTPUT_URI) == {OUTPUT_URI: "/mnt/share"}
    assert config_values(write_agent_config(tmp_path / "c", "host:hpo-2", [], 2.0), OUTPUT_URI) == {}
