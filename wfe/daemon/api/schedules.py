"""Schedules: runs of a published template started on a cron expression or an interval."""

from __future__ import annotations

import os
import time
from pathlib import Path

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import (
    page,
    page_params,
    path_id,
    read_model,
    requires,
    respond,
    user,
)
from wfe.daemon.secrets import seal_inputs_async
from wfe.daemon.store import ops_schedules, queries
from wfe.daemon.store.util import new_id
from wfe.engine import schedules as eng
from wfe.engine.durations import parse_duration
from wfe.engine.roles import Permission
from wfe.engine.run_parts import run_parts
from wfe.errors import NotFound, ValidationFailed
from wfe.models import CreateSchedule, Run, Schedule, UpdateSchedule


def local_zone() -> str:
    """The daemon's IANA zone: TZ, else what /etc/localtime links to, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if (tz and "/" in tz) or tz == "UTC":
        return tz
    target = str(Path("/etc/localtime").resolve())
    _, found, name = target.partition("zoneinfo/")
    return name if found and name else "UTC"


def _invalid(path: str, message: str) -> ValidationFailed:
    return ValidationFailed("invalid request", [{"path": path, "message": message}])


def _seconds(value, path: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as e:
        raise _invalid(path, str(e)) from None


def _spec(cron, tz, every, offset) -> dict:
    every_s, offset_s = _seconds(every, "every"), _seconds(offset, "offset")
    if cron is not None and tz is None:
        tz = local_zone()
    try:
        return eng.make_spec(cron, tz, every_s, offset_s).as_dict()
    except ValueError as e:
        raise _invalid("cron" if cron is not None else "every", str(e)) from None


async def _template(request: web.Request, ref: str) -> tuple[dict, int | None]:
    store = request.app[keys.STORE]
    row = await queries.get_template(store, ref, published_only=True)
    if row is None:
        raise NotFound(f"no published template {ref}")
    return row, (row["version"] if "@" in ref else None)


async def _sealed_input(request: web.Request, row: dict, raw: dict, sched_id: str) -> dict:
    """Checked against the template now (a 422 here, not a skipped fire later); its secret
    values are sealed to the schedule, and to each run as it starts."""
    sup = request.app[keys.SUPERVISOR]
    spec = sup.template_spec(row["id"], row["spec"])
    _, _, inputs = run_parts(spec, row, raw)
    return await seal_inputs_async(spec.variables, inputs, sup.sealer,
                                   ops_schedules.seal_context(sched_id))


async def _answer(request: web.Request, sched_id: str, status: int = 200) -> web.Response:
    found = request.app[keys.STORE].read(ops_schedules.read_schedule, sched_id,
                                         user(request)["name"])
    if found is None:
        raise NotFound(f"schedule {sched_id} not found")
    return respond(Schedule, found, status=status)


@requires(Permission.START_RUNS)
async def create_schedule(request: web.Request) -> web.Response:
    body = await read_model(request, CreateSchedule)
    spec = _spec(body.cron, body.tz, body.every, body.offset)
    row, version = await _template(request, body.template)
    sched_id = new_id()
    values = {
        "name": body.name or row["name"], "template": row["name"], "version": version,
        "input": await _sealed_input(request, row, body.input, sched_id), "spec": spec,
        "overlap": body.overlap, "catchup": body.catchup,
        "jitter": _seconds(body.jitter, "jitter") or 0.0, "paused": body.paused,
    }
    await request.app[keys.STORE].write(ops_schedules.create_schedule, sched_id,
                                        user(request)["name"], values, time.time())
    request.app[keys.SUPERVISOR].timer_poke()
    return await _answer(request, sched_id, 201)


async def list_schedules(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    items, total = request.app[keys.STORE].read(ops_schedules.list_schedules,
                                                user(request)["name"], limit, offset)
    return page(Schedule, items, total, limit, offset)


async def get_schedule(request: web.Request) -> web.Response:
    return await _answer(request, path_id(request, "schedule"))


@requires(Permission.START_RUNS)
async def update_schedule(request: web.Request) -> web.Response:
    sched_id = path_id(request, "schedule")
    body = await read_model(request, UpdateSchedule)
    current = request.app[keys.STORE].read(ops_schedules.read_schedule, sched_id,
                                           user(request)["name"])
    if current is None:
        raise NotFound(f"schedule {sched_id} not found")
    given = body.model_dump(exclude_unset=True)
    values: dict = {k: given[k] for k in ("name", "overlap", "catchup") if given.get(k)}
    if given.keys() & {"cron", "tz", "every", "offset"}:
        timing = {k: given.get(k) for k in ("cron", "tz", "every", "offset")}
        if timing["cron"] is None and timing["every"] is None:  # only the zone or offset
            timing["cron"], timing["every"] = current["cron"], current["every"]
        values["spec"] = _spec(**timing)
    if "jitter" in given:
        values["jitter"] = _seconds(body.jitter, "jitter") or 0.0
    if body.input is not None:
        ref = current["template"] + (f"@{current['version']}" if current["version"] else "")
        row, _ = await _template(request, ref)
        values["input"] = await _sealed_input(request, row, body.input, sched_id)
    if values:
        await request.app[keys.STORE].write(ops_schedules.update_schedule, sched_id,
                                            user(request)["name"], values, time.time())
        request.app[keys.SUPERVISOR].timer_poke()
    return await _answer(request, sched_id)


async def _act(request: web.Request, op) -> web.Response:
    sched_id = path_id(request, "schedule")
    await request.app[keys.STORE].write(op, sched_id, user(request)["name"], time.time())
    request.app[keys.SUPERVISOR].timer_poke()
    return await _answer(request, sched_id)


@requires(Permission.START_RUNS)
async def pause_schedule(request: web.Request) -> web.Response:
    return await _act(request, ops_schedules.pause_schedule)


@requires(Permission.START_RUNS)
async def resume_schedule(request: web.Request) -> web.Response:
    return await _act(request, ops_schedules.resume_schedule)


@requires(Permission.START_RUNS)
async def delete_schedule(request: web.Request) -> web.Response:
    sched_id = path_id(request, "schedule")
    await request.app[keys.STORE].write(ops_schedules.delete_schedule, sched_id,
                                        user(request)["name"])
    return web.Response(status=204)


@requires(Permission.START_RUNS)
async def trigger_schedule(request: web.Request) -> web.Response:
    sched_id = path_id(request, "schedule")
    sup, me = request.app[keys.SUPERVISOR], user(request)["name"]
    fired = await request.app[keys.STORE].write(
        ops_schedules.trigger_schedule, sched_id, me, sup.schedule_context(), time.time())
    run_id = fired.started[0]
    run = await queries.get_run(request.app[keys.STORE], run_id, me, detail=False)
    assert run is not None  # committed above by the single writer
    for cancelled in fired.cancelled:
        sup.cancel(cancelled)
    sup.wake(run_id)
    return respond(Run, run, status=201)
