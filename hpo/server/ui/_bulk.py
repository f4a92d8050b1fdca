"""The experiments table's selection: bulk actions through ``tasks.*_many``, and CSV export of the rows.

A bulk action is one API call of ClearML's batch endpoints (``tasks.stop_many``, ``tasks.move`` ...)
through :func:`~hpo.server.ui._dispatch.dispatch`, so the API decides per task what applies. The
table then shows what was done and, for each task it could not apply to, the API's reason. Those
notices reach the page after the redirect under a random one-time key (``done=``), held in memory
for at most :data:`MAX_RESULTS` actions: a reload or a shared link shows nothing stale.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import secrets
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hpo.server.ui import _tasks
from hpo.server.ui._dispatch import Server, dispatch
from hpo.server.ui._params import table_query
from hpo.server.ui._render import NotFound

MAX_RESULTS = 64
_results: OrderedDict[str, list[str]] = OrderedDict()

# action -> (label, endpoint); the form's extra fields are added by _body
ACTIONS = {
    "abort": ("Abort", "tasks.stop_many"),
    "archive": ("Archive", "tasks.archive_many"),
    "unarchive": ("Restore from archive", "tasks.unarchive_many"),
    "enqueue": ("Enqueue", "tasks.enqueue_many"),
    "dequeue": ("Dequeue", "tasks.dequeue_many"),
    "reset": ("Reset", "tasks.reset_many"),
    "delete": ("Delete", "tasks.delete_many"),
    "tags": ("Tag", "tasks.update_tags"),
    "move": ("Move", "tasks.move"),
}
MAX_COMPARE = 100
LISTED = 20  # the tasks an action could not apply to, each named with its reason
TABLE = "/projects/*/experiments"  # where an action without a (good) way back returns


def take_results(key: str | None) -> list[str]:
    """The notices a bulk action left under ``key`` (once)."""
    return _results.pop(key, []) if key else []


def _keep(notices: list[str]) -> str:
    key = secrets.token_hex(8)
    _results[key] = notices
    while len(_results) > MAX_RESULTS:
        _results.popitem(last=False)
    return key


def _words(raw: Any) -> list[str]:
    return [t.strip() for t in str(raw or "").split(",") if t.strip()]


def _body(action: str, ids: list[str], form: FormData) -> dict[str, Any]:
    """The batch endpoint's request for ``action`` on ``ids``, from the footer's fields."""
    body: dict[str, Any] = {"ids": ids}
    if action == "abort":
        body["status_reason"] = "aborted in the web UI"
    elif action == "enqueue":
        body["queue"] = str(form.get("queue") or "")
    elif action == "tags":
        body.update(add_tags=_words(form.get("add_tags")), remove_tags=_words(form.get("remove_tags")))
    elif action == "move":
        name = str(form.get("project_name") or "").strip()
        target = str(form.get("project") or "")
        body.update({"project_name": name} if name else {"project": None if target in ("", "*") else target})
    return body


def _summary(server: Server, label: str, ids: list[str], result: dict[str, Any]) -> list[str]:
    """What a batch did: how many it applied to, then each task it did not and the API's reason."""
    failed = result.get("failed")
    if failed is None:  # tasks.move and tasks.update_tags: all or nothing
        return [f"{label}: done for {len(ids)} experiment{'s' if len(ids) != 1 else ''}"]
    names = {str(t["id"]): str(t.get("name") or t["id"]) for i in ids if (t := server.store.tasks.get(i))}
    done = len(result.get("succeeded") or [])
    notices = [f"{label}: done for {done} of {len(ids)} selected; not applied to {len(failed)}" if failed
               else f"{label}: done for {done} of {len(ids)} selected"]  # fmt: skip
    for item in failed[:LISTED]:
        task_id = str(item.get("id"))
        notices.append(f"{label} not applied to {names.get(task_id, task_id)!r}: {item['error']['msg']}")
    if len(failed) > LISTED:  # 500 selected rows would otherwise push the table off the page
        notices.append(f"{label} not applied to {len(failed) - LISTED} more; select fewer to see each reason")
    return notices


def _back(form: FormData) -> str:
    """Where the form came from (a path on this site only), without an older ``done=``."""
    parts = urlsplit(str(form.get("back") or TABLE))
    if parts.scheme or parts.netloc or not parts.path.startswith("/projects/"):
        return TABLE
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("done="))
    return parts.path + (f"?{query}" if query else "")


async def bulk(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    """Apply the footer's action to the ticked rows, then back to the table with what happened."""
    form: FormData = ctx["form"]
    ids = list(dict.fromkeys(str(i) for i in form.getlist("ids")))
    action = str(form.get("action") or "")
    back = _back(form)
    if action == "compare":
        return RedirectResponse("/compare?" + urlencode({"ids": ",".join(ids[:MAX_COMPARE])}), status_code=303)
    if action not in ACTIONS:
        raise NotFound("bulk action", action)
    label, endpoint = ACTIONS[action]
    if not ids:
        notices = [f"{label}: no experiment selected; tick the rows first"]
    else:
        (result,) = dispatch(server, (endpoint, _body(action, ids, form)))
        notices = _summary(server, label, ids, result)
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}done={_keep(notices)}", status_code=303)


def table_choices(server: Server, sample: list[dict[str, Any]]) -> dict[str, Any]:
    """What the table's pickers offer: tags, queues and projects (for the footer) from the store."""
    tags = sorted({t for task in sample for t in task.get("tags") or []})
    queues = sorted(_tasks.queue_names(server.store).items(), key=lambda kv: kv[1])
    projects = sorted(((str(p["id"]), str(p.get("name", ""))) for p in server.store.projects
                       if "hidden" not in (p.get("system_tags") or [])), key=lambda kv: kv[1])  # fmt: skip
    return {"tag_choices": tags, "queue_choices": queues, "project_choices": projects, "bulk_actions": ACTIONS}


def cell(task: dict[str, Any], column: str) -> tuple[str, str]:
    """(shown, exact) text of an extra column: numbers rounded for reading, exact in the tooltip."""
    value = _tasks.column_value(task, column)
    if isinstance(value, float):
        return f"{value:.6g}", repr(value)
    return value or "", value or ""


BASE_CSV = ("id", "name", "status", "type", "tags", "created", "started", "completed", "duration_s", "queue")


async def export_csv(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    """Every row of the table as filtered and sorted (all pages), with its extra columns, as CSV."""
    project = request.query_params.get("project") or _tasks.ALL
    if project != _tasks.ALL and server.store.projects.get(project) is None:
        raise NotFound("project", project)
    query, _ = table_query(project, request.query_params)
    rows, _, _ = _tasks.select_tasks(server.store, server.runtime, dataclasses.replace(query, page=1, size=10**9))
    queues = _tasks.queue_names(server.store)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*BASE_CSV, *query.columns])
    for task in rows:
        duration = _tasks.duration_s(task)
        base = [task["id"], task.get("name", ""), task.get("status", ""), task.get("type", ""),
                ";".join(task.get("tags") or []), task.get("created", ""), task.get("started") or "",
                task.get("completed") or "", "" if duration is None else round(duration, 3),
                queues.get(str((task.get("execution") or {}).get("queue")), "")]  # fmt: skip
        writer.writerow([*(_csv_safe(v) for v in base), *(_csv_safe(cell(task, c)[1]) for c in query.columns)])
    name = "experiments.csv" if project == _tasks.ALL else f"experiments-{project}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is quoted with ``'``."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and _tasks.as_number(value) is None:
        return "'" + value
    return value
