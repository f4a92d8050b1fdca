"""``hpo dashboard``: optuna-dashboard over the searches' study storage.

- ``_server.py``: serve it on 127.0.0.1 from a background thread (``start_dashboard``);
- ``_storage.py``: a read-side view of the storage that ties trials to their ClearML tasks;
- ``_links.py``: the ClearML web UI address and task links.

The dashboard only reads what the search writes (``hpo.search``); it never drives a search.
"""

from hpo.dashboard._links import configured_web_host, task_url, trial_note
from hpo.dashboard._server import DEFAULT_PORT, DashboardHandle, start_dashboard
from hpo.dashboard._storage import LinkedStorage

__all__ = [
    "DEFAULT_PORT",
    "DashboardHandle",
    "LinkedStorage",
    "configured_web_host",
    "start_dashboard",
    "task_url",
    "trial_note",
]
