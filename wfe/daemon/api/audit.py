"""Verifying the audit log's hash chain: one run, or every run of the caller.

A deleted run's chain is gone; what stays is its record in the global audit log (its head
hash, who deleted it and when), which both answers report. A run whose events remain with
no run row and no such record, or a record whose run is not wholly gone, is a failure.
"""

from __future__ import annotations

import asyncio
import itertools

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import may, path_run_id, respond, user, visible_run
from wfe.daemon.store import queries
from wfe.engine.audit import deletion_failures, verify_chain
from wfe.engine.roles import Permission
from wfe.errors import NotFound
from wfe.models import AuditReport, AuditSummary


async def verify_run(request: web.Request) -> web.Response:
    store, run_id = request.app[keys.STORE], request.match_info["id"]
    try:
        # Whoever may read the run may check its log (its owner and its approvers).
        await visible_run(request)
    except NotFound:
        return await _deleted_run(request, path_run_id(request))
    events, head = await queries.audit_run(store, run_id)
    report = await asyncio.to_thread(verify_chain, run_id, events, head["last_seq"],
                                     head["last_hash"])
    return respond(AuditReport, report)


async def _deleted_run(request: web.Request, run_id: str) -> web.Response:
    """A deleted run of the caller's (or anyone's, for an admin) answers its record."""
    row = await queries.audit_deleted(request.app[keys.STORE], run_id)
    record = queries.deletion_view(row) if row else None
    if record is None or not (record["owner"] == user(request)["name"]
                              or may(request, Permission.ANY_RUN)):
        raise NotFound(f"run {run_id} not found")
    failures = deletion_failures([record], [])
    report = failures[0] if failures else {
        "run_id": run_id, "ok": True, "events": record["events"], "head": record["head"],
        "first_bad": None}
    return respond(AuditReport, {**report, "deleted": record})


def _verify_all(heads: list[dict], events: list[dict], deletions: list[dict],
                orphans: list[dict]) -> dict:
    by_run = {k: list(g) for k, g in itertools.groupby(events, key=lambda e: e["run_id"])}
    reports = [verify_chain(h["id"], by_run.get(h["id"], []), h["last_seq"], h["last_hash"])
               for h in heads]
    records = [queries.deletion_view(d) for d in deletions]
    failures = [r for r in reports if not r["ok"]]
    failures += deletion_failures(records, [o["run_id"] for o in orphans])
    return {"ok": not failures, "runs": len(reports),
            "events": sum(r["events"] for r in reports), "failures": failures,
            "deleted": records}


async def verify_all(request: web.Request) -> web.Response:
    store, me = request.app[keys.STORE], user(request)["name"]
    events, heads, deletions, orphans = await queries.audit_owner(store, me)
    # Hashing every event is CPU work: keep it off the event loop.
    return respond(AuditSummary, await asyncio.to_thread(_verify_all, heads, events, deletions,
                                                         orphans))
