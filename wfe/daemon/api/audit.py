"""Verifying the audit log's hash chain: one run, or every run of the caller."""

from __future__ import annotations

import asyncio
import itertools

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import respond, user, visible_run
from wfe.daemon.store import queries
from wfe.engine.audit import verify_chain
from wfe.models import AuditReport, AuditSummary


async def verify_run(request: web.Request) -> web.Response:
    store, run_id = request.app[keys.STORE], request.match_info["id"]
    # Whoever may read the run may check its log (its owner and its approvers).
    await visible_run(request)
    events, head = await queries.audit_run(store, run_id)
    report = await asyncio.to_thread(verify_chain, run_id, events, head["last_seq"],
                                     head["last_hash"])
    return respond(AuditReport, report)


def _verify_all(heads: list[dict], events: list[dict]) -> dict:
    by_run = {k: list(g) for k, g in itertools.groupby(events, key=lambda e: e["run_id"])}
    reports = [verify_chain(h["id"], by_run.get(h["id"], []), h["last_seq"], h["last_hash"])
               for h in heads]
    failures = [r for r in reports if not r["ok"]]
    return {"ok": not failures, "runs": len(reports),
            "events": sum(r["events"] for r in reports), "failures": failures}


async def verify_all(request: web.Request) -> web.Response:
    store, me = request.app[keys.STORE], user(request)["name"]
    events, heads = await queries.audit_owner(store, me)
    # Hashing every event is CPU work: keep it off the event loop.
    return respond(AuditSummary, await asyncio.to_thread(_verify_all, heads, events))
