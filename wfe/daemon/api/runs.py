"""Runs: start, list, read, and the actions people take on them."""

from __future__ import annotations

import re

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api import idempotency
from wfe.daemon.api.common import (
    choice_param, page_json, page_params, path_run_id, read_model, respond, run_answer, user,
)
from wfe.daemon.api.webhooks import callback_hook
from wfe.daemon.secrets import seal_inputs
from wfe.daemon.store import ops_runs, queries
from wfe.daemon.store.ops_idempotency import KeyTaken
from wfe.engine.inputs import validate_inputs
from wfe.engine.states import RunStatus
from wfe.errors import Conflict, NotFound, ValidationFailed
from wfe.models import CancelRun, Run, StartRun


async def start_run(request: web.Request) -> web.Response:
    key = idempotency.header_key(request)
    body = await read_model(request, StartRun)
    app, me = request.app, user(request)
    digest = idempotency.fingerprint(request, body) if key is not None else ""
    if key is not None and (found := await idempotency.earlier(request, key)):
        return await idempotency.replay(request, *found, digest)  # before any other check
    row = await _resolve_template(request, body)
    spec = app[keys.SUPERVISOR].template_spec(row["id"], row["spec"])
    inputs = validate_inputs(spec.variables, body.input)
    inputs = seal_inputs(spec.variables, inputs, app[keys.SUPERVISOR].sealer)  # never stored clear
    template = {"id": row["id"], "name": row["name"], "version": row["version"]}
    steps = [(s.name, s.kind) for s in spec.steps]
    sup = app[keys.SUPERVISOR]
    hook = callback_hook(request, body.callback_url)
    args = (template, steps, inputs, body.trigger_type, hook, sup.callback_key)
    try:
        if key is None:
            run_id = await app[keys.STORE].write(ops_runs.create_run, me["name"], *args)
        else:
            run_id = await idempotency.create_once(request, key, digest, *args)
    except KeyTaken as taken:  # a request with the same key committed first: its run it is
        return await idempotency.replay(request, taken.run_id, taken.body_hash, digest)
    # Read back before waking, so the 201 shows the run as created (pending), not racing it.
    run = await queries.get_run(app[keys.STORE], run_id, me["name"], detail=False)
    app[keys.SUPERVISOR].wake(run_id)
    if hook is not None:  # shown this once, like a webhook's secret
        run["callback_secret"] = hook["secret"]
    return respond(Run, run, status=201)


async def _resolve_template(request: web.Request, body: StartRun) -> dict:
    app = request.app
    if (body.template_id is None) == (body.template is None):
        raise ValidationFailed("invalid request", [
            {"path": "template_id", "message": "give exactly one of template_id and template"}])
    ref = body.template_id or body.template
    if body.template_id is not None and not queries.is_uuid(ref):
        raise NotFound(f"template {ref} not found")
    row = await queries.get_template(app[keys.STORE], ref, published_only=True)
    if row is not None:
        return row
    draft = await queries.get_template(app[keys.STORE], ref, viewer=user(request))
    if draft is not None:
        raise Conflict(f"template {draft['name']}@{draft['version']} is a draft; publish it first",
                       {"status": draft["status"]})
    raise NotFound(f"no published template {ref}")


ID_PREFIX = re.compile(r"[0-9a-fA-F-]{1,36}")


async def list_runs(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    status = choice_param(request, "status", [s.value for s in RunStatus])
    items, total = await queries.list_runs(request.app[keys.STORE], user(request)["name"],
                                           status, limit, offset, _id_prefix(request),
                                           request.query.get("before"))
    return page_json(items, total, limit, offset)


def _id_prefix(request: web.Request) -> str | None:
    prefix = request.query.get("id_prefix")
    if prefix is None:
        return None
    if not ID_PREFIX.fullmatch(prefix):
        raise ValidationFailed("invalid query parameters", [
            {"path": "id_prefix", "message": "must be 1 to 36 of 0-9, a-f and -"}])
    return prefix.lower()  # ids are stored lowercase


async def get_run(request: web.Request) -> web.Response:
    return await run_answer(request)


async def _act(request: web.Request, op, *args) -> str:
    run_id = path_run_id(request)
    me = user(request)
    await request.app[keys.STORE].write(op, run_id, me["name"], me["name"], *args)
    return run_id


async def pause_run(request: web.Request) -> web.Response:
    await _act(request, ops_runs.pause_run)
    return await run_answer(request)


async def resume_run(request: web.Request) -> web.Response:
    run_id = await _act(request, ops_runs.resume_run)
    request.app[keys.SUPERVISOR].wake(run_id)
    return await run_answer(request)


async def cancel_run(request: web.Request) -> web.Response:
    body = await read_model(request, CancelRun, optional=True)
    run_id = await _act(request, ops_runs.cancel_run, body.reason)
    request.app[keys.SUPERVISOR].cancel(run_id)
    return await run_answer(request)


async def retry_run(request: web.Request) -> web.Response:
    run_id = await _act(request, ops_runs.retry_run)
    request.app[keys.SUPERVISOR].wake(run_id)
    return await run_answer(request)
