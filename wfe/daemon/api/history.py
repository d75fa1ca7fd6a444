"""A run's history: snapshots, rollback, and the whole log of a step's attempt."""

from __future__ import annotations

import os

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import (
    page,
    page_params,
    path_run_id,
    read_model,
    requires,
    respond,
    user,
    visible_run,
)
from wfe.daemon.api.forward import forwarded
from wfe.daemon.store import item_queries, ops_history, queries
from wfe.engine.roles import Permission
from wfe.errors import NotFound, RangeNotSatisfiable, ValidationFailed
from wfe.models import RollbackRequest, RollbackResult, Snapshot, StepItem


async def snapshots(request: web.Request) -> web.Response:
    run = await visible_run(request)
    limit, offset = page_params(request)
    items, total = await queries.run_snapshots(request.app[keys.STORE], run["id"], limit, offset)
    return page(Snapshot, items, total, limit, offset)


@requires(Permission.CONTROL_RUNS)
async def rollback(request: web.Request) -> web.Response:
    body = await read_model(request, RollbackRequest)
    run_id = path_run_id(request)
    me = user(request)["name"]
    app = request.app
    rerun = await app[keys.STORE].write(ops_history.rollback, run_id, me, me, body.snapshot_id,
                                        body.step, body.dry_run)
    if not body.dry_run:
        app[keys.SUPERVISOR].wake(run_id)
    run = await queries.get_run(app[keys.STORE], run_id, me)
    return respond(RollbackResult, {"run": run, "rerun_steps": rerun, "dry_run": body.dry_run})


async def step_log(request: web.Request) -> web.StreamResponse:
    """The attempt's log file, streamed from disk (sendfile), whole or the ``Range`` asked
    for: memory stays flat however large the log or how many read it at once."""
    run = await visible_run(request)
    relayed = await forwarded(request, run["id"])
    if relayed is not None:
        return relayed
    raw = request.query.get("attempt")
    if raw is not None and not (raw.isdigit() and int(raw) >= 1):
        raise ValidationFailed("invalid query parameters",
                               [{"path": "attempt", "message": "must be an integer >= 1"}])
    attempt, item = int(raw) if raw else None, _item_param(request)
    store, step = request.app[keys.STORE], request.match_info["step"]
    if item is None:
        row = await queries.attempt_log(store, run["id"], step, attempt)
    else:
        row = await item_queries.item_log(store, run["id"], step, item, attempt)
    if row is None:
        raise NotFound("no such step or attempt in this run")
    size = _size(row["log_path"])
    if size is None:  # still running (the path is recorded at its end), or no log at all
        return web.Response(body=b"", content_type="text/plain", charset="utf-8")
    _check_range(request, size)
    return web.FileResponse(row["log_path"], headers={
        "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache"})


def _item_param(request: web.Request) -> int | None:
    raw = request.query.get("item")
    if raw is not None and not (raw.isdigit() and len(raw) <= 18):
        raise ValidationFailed("invalid query parameters",
                               [{"path": "item", "message": "must be an integer >= 0"}])
    return int(raw) if raw is not None else None


async def step_items(request: web.Request) -> web.Response:
    """A foreach step's items, in item order (empty for any other step)."""
    run = await visible_run(request)
    limit, offset = page_params(request)
    found = await item_queries.list_items(request.app[keys.STORE], run["id"],
                                          request.match_info["step"], limit, offset)
    if found is None:
        raise NotFound("no such step in this run")
    return page(StepItem, found[0], found[1], limit, offset)


def _size(path: str | None) -> int | None:
    try:
        return os.stat(path).st_size if path else None
    except OSError:
        return None


def _check_range(request: web.Request, size: int) -> None:
    """FileResponse answers an unsatisfiable Range with an empty 416: refuse it first, in
    the one error shape (the same rules: a start at or past the end, or a malformed one)."""
    if "Range" not in request.headers or "If-Range" in request.headers:
        return
    try:
        rng = request.http_range
    except ValueError:
        raise RangeNotSatisfiable("the Range header is not bytes=START-END, bytes=START- or"
                                  " bytes=-N", {"size": size}) from None
    start = rng.start
    if start is not None and start < 0 and rng.stop is None:
        start = max(0, start + size)
    if start is not None and start >= size:
        raise RangeNotSatisfiable(f"the log has {size} bytes", {"size": size})
