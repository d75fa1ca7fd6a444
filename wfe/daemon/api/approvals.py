"""Approval gates: the inbox, and approve / reject."""

from __future__ import annotations

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import (
    choice_param,
    page,
    page_params,
    read_model,
    requires,
    run_answer,
    run_masker,
    user,
)
from wfe.daemon.store import ops_approvals, queries
from wfe.engine.roles import Permission
from wfe.errors import NotFound
from wfe.models import Approval, Decision


async def inbox(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    status = choice_param(request, "status",
                          ["pending", "approved", "rejected", "expired", "cancelled"])
    items, total = await queries.approval_inbox(request.app[keys.STORE], user(request)["name"],
                                                status, limit, offset)
    return page(Approval, items, total, limit, offset)


async def _decide(request: web.Request, approve: bool) -> web.Response:
    run_id, approval_id = request.match_info["id"], request.match_info["approval_id"]
    if not (queries.is_uuid(run_id) and queries.is_uuid(approval_id)):
        raise NotFound("not found")
    body = await read_model(request, Decision, optional=True)
    me = user(request)["name"]
    app = request.app
    comment = body.comment
    if comment:  # an approver may quote what the run printed, secret and all
        comment = (await run_masker(request, run_id)).text(comment)
    wake = await app[keys.STORE].write(ops_approvals.decide, run_id, approval_id, me, approve,
                                       comment)
    if wake:  # only once the decision is durable
        app[keys.SUPERVISOR].wake(run_id)
    return await run_answer(request)


@requires(Permission.DECIDE_APPROVALS)
async def approve(request: web.Request) -> web.Response:
    return await _decide(request, True)


@requires(Permission.DECIDE_APPROVALS)
async def reject(request: web.Request) -> web.Response:
    return await _decide(request, False)
