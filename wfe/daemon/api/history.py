"""A run's history: snapshots, rollback, and the whole log of a step's attempt."""

from __future__ import annotations

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import (
    page, page_params, path_run_id, read_model, requires, respond, user, visible_run,
)
from wfe.daemon.store import ops_history, queries
from wfe.engine.roles import Permission
from wfe.errors import NotFound, ValidationFailed
from wfe.models import RollbackRequest, RollbackResult, Snapshot

MAX_LOG_BYTES = 64 * 1024 * 1024


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
    run = await visible_run(request)
    raw = request.query.get("attempt")
    if raw is not None and not (raw.isdigit() and int(raw) >= 1):
        raise ValidationFailed("invalid query parameters",
                               [{"path": "attempt", "message": "must be an integer >= 1"}])
    row = await queries.attempt_log(request.app[keys.STORE], run["id"],
                                    request.match_info["step"], int(raw) if raw else None)
    if row is None:
        raise NotFound("no such step or attempt in this run")
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await resp.prepare(request)
    if row["log_path"]:
        try:
            with open(row["log_path"], "rb") as f:
                await resp.write(f.read(MAX_LOG_BYTES))
        except FileNotFoundError:
            pass
    await resp.write_eof()
    return resp
