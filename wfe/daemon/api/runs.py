"""Runs: start, list, read, and the actions people take on them."""

from __future__ import annotations

import re

from aiohttp import web

from wfe.daemon import keys, retention
from wfe.daemon.api import idempotency
from wfe.daemon.api.common import (
    choice_param,
    may,
    page_json,
    page_params,
    path_run_id,
    read_model,
    requires,
    respond,
    run_answer,
    run_masker,
    template_viewer,
    user,
)
from wfe.daemon.api.webhooks import callback_hook
from wfe.daemon.launch import prepare_run
from wfe.daemon.store import ops_delete, ops_handlers, ops_runs, queries, run_list
from wfe.daemon.store.ops_idempotency import KeyTaken
from wfe.daemon.store.run_list import RunFilter
from wfe.engine.durations import parse_instant
from wfe.engine.roles import Permission
from wfe.engine.spec_models import NAME_RULES
from wfe.engine.states import RunStatus
from wfe.errors import Conflict, NotFound, ValidationFailed
from wfe.models import CancelRun, Run, RunDeleted, StartRun


@requires(Permission.START_RUNS)
async def start_run(request: web.Request) -> web.Response:
    key = idempotency.header_key(request)
    body = await read_model(request, StartRun)
    app, me = request.app, user(request)
    digest = idempotency.fingerprint(request, body) if key is not None else ""
    if key is not None and (found := await idempotency.earlier(request, key)):
        return await idempotency.replay(request, *found, digest)  # before any other check
    row = await _resolve_template(request, body)
    sup = app[keys.SUPERVISOR]
    new = await prepare_run(sup, row, body.input, me["name"])
    run_id = new.run_id
    hook = callback_hook(request, body.callback_url)
    displaced: list[str] = []  # runs cancelled to make room (concurrency: cancel_oldest)
    args = (new.template, new.steps, new.inputs, body.trigger_type, hook, sup.callback_key,
            run_id, None, displaced)
    try:
        if key is None:
            await app[keys.STORE].write(ops_runs.create_run, me["name"], *args)
        else:
            await idempotency.create_once(request, key, digest, *args)
    except KeyTaken as taken:  # a request with the same key committed first: its run it is
        return await idempotency.replay(request, taken.run_id, taken.body_hash, digest)
    # Read back before waking, so the 201 shows the run as created (pending), not racing it.
    run = await queries.get_run(app[keys.STORE], run_id, me["name"], detail=False)
    assert run is not None  # committed above by the single writer
    for cancelled in displaced:  # committed with the new run: stop their steps
        sup.cancel(cancelled)
    if run["queued_behind"] is None:  # a queued run is woken when a slot frees
        sup.wake(run_id)
    if hook is not None:  # shown this once, like a webhook's secret
        run["callback_secret"] = hook["secret"]
    return respond(Run, run, status=201)


async def _resolve_template(request: web.Request, body: StartRun) -> dict:
    app = request.app
    if (body.template_id is None) == (body.template is None):
        raise ValidationFailed("invalid request", [
            {"path": "template_id", "message": "give exactly one of template_id and template"}])
    ref = body.template_id or body.template or ""
    if body.template_id is not None and not queries.is_uuid(ref):
        raise NotFound(f"template {ref} not found")
    row = await queries.get_template(app[keys.STORE], ref, published_only=True)
    if row is not None:
        return row
    draft = await queries.get_template(app[keys.STORE], ref, viewer=template_viewer(request))
    if draft is not None:
        hint = "; publish it first" if draft["status"] == "draft" else ""
        raise Conflict(f"template {draft['name']}@{draft['version']} is {draft['status']}{hint}",
                       {"status": draft["status"]})
    raise NotFound(f"no published template {ref}")


ID_PREFIX = re.compile(r"[0-9a-fA-F-]{1,36}")


async def list_runs(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    where = RunFilter(status=choice_param(request, "status", [s.value for s in RunStatus]),
                      id_prefix=_id_prefix(request), template=_template_name(request),
                      since=_since(request), schedule=_schedule(request))
    items, total = await run_list.list_runs(request.app[keys.STORE], user(request)["name"],
                                            where, limit, offset, request.query.get("before"))
    return page_json(items, total, limit, offset)


TEMPLATE_NAME = re.compile(NAME_RULES["template"][0])


def _template_name(request: web.Request) -> str | None:
    name = request.query.get("template")
    if name is not None and not TEMPLATE_NAME.fullmatch(name):
        raise ValidationFailed("invalid query parameters", [
            {"path": "template",
             "message": f"must be a template name: {NAME_RULES['template'][1]} (at most 64)"}])
    return name


def _schedule(request: web.Request) -> str | None:
    """Another user's schedule, or no schedule, simply has no runs here."""
    ref = request.query.get("schedule")
    if ref is not None and not queries.is_uuid(ref):
        raise ValidationFailed("invalid query parameters", [
            {"path": "schedule", "message": "must be a schedule id"}])
    return ref.lower() if ref else None


def _since(request: web.Request) -> str | None:
    """An ISO-8601 time (UTC when it names no offset), as runs store theirs."""
    raw = request.query.get("since")
    if raw is None:
        return None
    try:
        at = parse_instant(raw)
    except ValueError as e:
        raise ValidationFailed("invalid query parameters", [
            {"path": "since", "message": str(e)}]) from None
    # As created_at is stored (now_iso), so that the two compare as text; %Y would not pad.
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


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


@requires(Permission.CONTROL_RUNS)
async def pause_run(request: web.Request) -> web.Response:
    await _act(request, ops_runs.pause_run)
    return await run_answer(request)


@requires(Permission.CONTROL_RUNS)
async def resume_run(request: web.Request) -> web.Response:
    run_id = await _act(request, ops_runs.resume_run)
    request.app[keys.SUPERVISOR].wake(run_id)
    return await run_answer(request)


@requires(Permission.CONTROL_RUNS)
async def cancel_run(request: web.Request) -> web.Response:
    body = await read_model(request, CancelRun, optional=True)
    reason = body.reason
    if reason:
        reason = (await run_masker(request, path_run_id(request))).text(reason)
    try:
        run_id = await _act(request, ops_runs.cancel_run, reason)
    except Conflict:
        # The run has ended and its handlers still run: this cancel stops them.
        run_id = await _act(request, ops_handlers.cancel_handlers)
    request.app[keys.SUPERVISOR].cancel(run_id)  # its child runs' Runners too
    request.app[keys.SUPERVISOR].wake(run_id)  # its handlers (if any) are due now
    request.app[keys.SUPERVISOR].timer_poke()  # a parent waiting for this run goes on
    return await run_answer(request)


@requires(Permission.CONTROL_RUNS)
async def delete_run(request: web.Request) -> web.Response:
    """An ended run goes with everything of it; its deletion is on the audit record."""
    run_id, me = path_run_id(request), user(request)
    viewer = None if may(request, Permission.ANY_RUN) else me["name"]
    store = request.app[keys.STORE]
    out = await store.write(ops_delete.delete_run, run_id, viewer, me["name"])
    await retention.remove_logs(request.app[keys.PATHS].logs_dir, out["deleted"])
    await retention.vacuum(store)
    return respond(RunDeleted, out)


@requires(Permission.CONTROL_RUNS)
async def retry_run(request: web.Request) -> web.Response:
    run_id = await _act(request, ops_runs.retry_run)
    request.app[keys.SUPERVISOR].wake(run_id)
    return await run_answer(request)
