"""The embedded server's domain layer, as ClearML Server's ``apiserver/bll``.

Both the API (``hpo.server.routes``) and the web UI (``hpo.server.ui``) stand on this package and
never import each other; it stands on the store (``hpo.server.store``), the only place that
speaks SQL. It owns what a ClearML Server means by its documents and events, independent of
request shapes:

- task statuses and their transitions (:mod:`._tasks`): draft-only edits, what may move where;
- queue entries (:mod:`._queues`): which task waits where, the default queue;
- the project tree (:mod:`._projects`): paths, implicit parents, sub-projects;
- workers (:mod:`._workers`): when a silent worker leaves the list, and the periodic job
  (:mod:`._watchdog`) that fails a task whose worker died and ends a stop nobody answers;
- event semantics (:mod:`._events`): event types, metric keys, ``last_metrics``.

Nothing here knows HTTP: functions take the store and plain documents, change private
(``editable``) copies the caller puts back, and raise :class:`~hpo.server._errors.APIError` with
ClearML's codes when a rule refuses.
"""

from hpo.server.domain._events import (
    EVENT_TYPES,
    IMAGE,
    LOG,
    PLOT,
    SCALAR,
    SINGLE_VALUE_ITER,
    VECTOR,
    fold_scalars,
    last_metric,
    metric_key,
    update_last_metrics,
)
from hpo.server.domain._projects import descendants, ensure_project, project_by_name
from hpo.server.domain._queues import (
    DEFAULT_QUEUE,
    add_entry,
    create_queue,
    default_queue,
    queue_by_name,
    queue_of,
    remove_task_entry,
    resolve_queue,
)
from hpo.server.domain._tasks import (
    ALLOWED_FROM,
    DRAFT_STATUS,
    LIVE_STATUSES,
    STATUSES,
    STOPPABLE,
    STOPPING,
    TASK_TYPES,
    TASK_UPDATE_TIMEOUT_S,
    TRANSIENT_STATUSES,
    abort_pending,
    delete_task,
    reject_published,
    require_deletable,
    require_draft,
    run_by_worker,
    set_status,
)
from hpo.server.domain._watchdog import watch_tasks
from hpo.server.domain._workers import DEFAULT_TIMEOUT_S, expired

__all__ = [
    "ALLOWED_FROM",
    "DRAFT_STATUS",
    "LIVE_STATUSES",
    "DEFAULT_QUEUE",
    "DEFAULT_TIMEOUT_S",
    "EVENT_TYPES",
    "IMAGE",
    "LOG",
    "PLOT",
    "SCALAR",
    "SINGLE_VALUE_ITER",
    "STATUSES",
    "STOPPABLE",
    "STOPPING",
    "TASK_TYPES",
    "TASK_UPDATE_TIMEOUT_S",
    "TRANSIENT_STATUSES",
    "VECTOR",
    "abort_pending",
    "add_entry",
    "create_queue",
    "default_queue",
    "delete_task",
    "descendants",
    "ensure_project",
    "expired",
    "fold_scalars",
    "last_metric",
    "metric_key",
    "project_by_name",
    "queue_by_name",
    "queue_of",
    "reject_published",
    "remove_task_entry",
    "resolve_queue",
    "require_deletable",
    "require_draft",
    "run_by_worker",
    "set_status",
    "update_last_metrics",
    "watch_tasks",
]
