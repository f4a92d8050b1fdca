"""Links from a trial to its ClearML task in ClearML's web UI.

The web UI address is taken only from explicit configuration (the embedded server has no web UI,
and guessing it from the API address yields dead links):

1. the ``web_host`` argument;
2. ``CLEARML_WEB_HOST`` in the environment;
3. ``api.web_server`` in the ``clearml.conf`` the SDK reads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from hpo.connection import config_file, config_values, task_web_url
from hpo.errors import ServerError
from hpo.study import TrialAttr

log = logging.getLogger(__name__)

# Trial user attribute added for the dashboard (read-side only: nothing is written to the study).
URL_ATTR = "clearml_url"
# Trial user attributes that tie a trial to ClearML, in the order the note lists them.
CLEARML_ATTRS = (TrialAttr.TASK_ID, TrialAttr.QUEUE, TrialAttr.STATE, TrialAttr.MODEL_ID)


def configured_web_host(web_host: str | None = None) -> str | None:
    """The ClearML web UI address by the precedence above, or ``None`` when none is configured."""
    if web_host:
        return web_host.rstrip("/")
    if os.environ.get("CLEARML_WEB_HOST"):
        return os.environ["CLEARML_WEB_HOST"].rstrip("/")
    config = config_file()
    if config is None:
        return None
    try:
        value = config_values(config, "api.web_server").get("api.web_server")
    except ServerError as err:  # links are optional
        log.warning("cannot read api.web_server (%s); trials get no ClearML links", err)
        return None
    return value.rstrip("/") if value else None


def task_url(web_host: str, task_id: str) -> str:
    """The task's page in ClearML's web UI (``*`` lets the UI find the project itself)."""
    return task_web_url(web_host, task_id) + "/output/execution"


def trial_note(user_attrs: Mapping[str, Any], web_host: str | None) -> str:
    """A Markdown note for a trial: its ClearML attributes and, with a web UI, a link to its task."""
    task_id = user_attrs.get(TrialAttr.TASK_ID)
    if not task_id:
        return ""
    lines = ["### ClearML"]
    if web_host:
        lines.append(f"[Open task {task_id} in the ClearML web UI]({task_url(web_host, str(task_id))})")
        lines.append("")
    lines += [f"- **{key}**: `{user_attrs[key]}`" for key in CLEARML_ATTRS if user_attrs.get(key) is not None]
    return "\n".join(lines)


__all__ = ["CLEARML_ATTRS", "URL_ATTR", "configured_web_host", "task_url", "trial_note"]
