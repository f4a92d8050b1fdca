"""What a local ``clearml-agent daemon`` is given: its configuration file and its environment.

The agent runs tasks in the current Python environment: ``CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL``
makes it create no virtualenv and install nothing, and ``CLEARML_AGENT_SKIP_PIP_VENV_INSTALL``
names the interpreter (this one). Each worker gets its own folder, because the agent empties its
code folder (``agent.venvs_dir``) before every task.

That code folder is also where a script that sets no ``output_uri`` leaves its model file, and
ClearML then records that local path as the model's URL: the next trial overwrites it. So, given
the server's files host and unless the user's configuration names a default of its own, the
worker's configuration makes the files host the default ``output_uri`` of the tasks it runs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from hpo.connection import SDK_OVERRIDES, default_output_uri, hocon_include, sets_default_output_uri

# Settings that never make sense for workers that reuse this environment: no caches of venvs,
# clones or downloads, no update check, no per-task pip freeze.
_AGENT_CONF = """\
agent {{
    worker_id: {worker_id}
    worker_name: {worker_id}
    venvs_dir: {venvs_dir}
    venvs_cache {{ max_entries: 0, free_space_threshold_gb: 0, path: {venvs_cache} }}
    vcs_cache {{ enabled: false, path: {vcs_cache} }}
    pip_download_cache {{ enabled: false, path: {pip_cache} }}
    disable_agent_update_check: true
    task_ping_interval_sec: {ping_s}
}}
"""


def _q(value: str) -> str:
    """A HOCON string literal (JSON string syntax is valid HOCON)."""
    return json.dumps(value)


def write_agent_config(
    folder: Path, worker_id: str, base_configs: Sequence[Path], ping_s: float, files_host: str | None = None
) -> Path:
    """Write ``folder/clearml.conf`` for one worker; ``base_configs`` (the user's) are included first.

    Args:
        folder: The worker's own folder.
        worker_id: The worker's id.
        base_configs: The ``clearml.conf`` files the worker's environment reads.
        ping_s: How often a running task is pinged.
        files_host: The default ``output_uri`` of the tasks it runs, unless ``base_configs`` set one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    include = "".join(hocon_include(path) for path in base_configs)
    body = _AGENT_CONF.format(
        worker_id=_q(worker_id),
        venvs_dir=_q(str(folder / "venvs")),
        venvs_cache=_q(str(folder / "venvs-cache")),
        vcs_cache=_q(str(folder / "vcs-cache")),
        pip_cache=_q(str(folder / "pip-download-cache")),
        ping_s=max(1, round(ping_s)),
    )
    # SDK_OVERRIDES: tasks end faster and cannot deadlock with the SDK's reporting subprocess off.
    path = folder / "clearml.conf"
    output = default_output_uri(files_host) if files_host and not sets_default_output_uri(list(base_configs)) else ""
    path.write_text(include + SDK_OVERRIDES + output + body)
    return path


def agent_env(
    base: Mapping[str, str],
    config_file: Path,
    worker_id: str,
    poll_s: float,
    report_s: float,
    zygote: tuple[Path, Path] | None = None,
) -> dict[str, str]:
    """The environment of one daemon: ``base`` (with the server's ``CLEARML_*``) plus agent switches.

    Args:
        base: The environment to extend.
        config_file: The worker's ``clearml.conf``.
        worker_id: The worker's id.
        poll_s: Queue poll interval.
        report_s: Worker status report interval.
        zygote: ``(launcher, socket)``: tasks run with the launcher as their Python, which hands
            them to the warm zygote on the socket (:mod:`hpo.agents._zygote`).
    """
    env = dict(base)
    env.update(
        CLEARML_CONFIG_FILE=str(config_file),
        CLEARML_WORKER_ID=worker_id,
        CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL="1",
        CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=sys.executable,
        CLEARML_AGENT_QUEUE_POLL_FREQ_SEC=f"{poll_s:g}",
        CLEARML_AGENT_STATUS_REPORT_FREQ_SEC=f"{report_s:g}",
        # Known values stop the agent from probing nvidia-smi/nvcc at every start.
        CUDA_VERSION=os.environ.get("CUDA_VERSION", "0"),
        CUDNN_VERSION=os.environ.get("CUDNN_VERSION", "0"),
        PYTHONUNBUFFERED="1",
        # The agent refuses a worker id that another agent on this machine uses, judging by pid
        # files in the temp dir: a temp dir per $HPO_HOME keeps separate homes (tests) apart.
        TMPDIR=str(config_file.parent.parent / "tmp"),
    )
    if zygote is not None:
        env.update(CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=str(zygote[0]), HPO_ZYGOTE_SOCKET=str(zygote[1]))
    return env
