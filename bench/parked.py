"""Parked runs: N runs waiting at an approval gate cost memory only as rows, and no Runner.

RSS "before" is read once the daemon has served a few gated runs end to end (imports and
caches warm); "after" once all N wait at their gate. Then every approval is granted at once,
timed from the first ``approve`` sent to the last run's ``finished_at``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.harness import Api, running_daemon, ts
from bench.sizes import Sizes

TEMPLATE = {"name": "gated", "steps": [{"name": "gate", "approval": {}},
                                        {"name": "after", "set": {"ok": "yes"}}]}
WARMUP = 5


async def _pending(api: Api) -> list[dict]:
    out, offset = [], 0
    while True:
        page = await api.get(f"/api/v1/approvals?status=pending&limit=500&offset={offset}")
        out += page["items"]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return out


async def _approve_all(api: Api) -> list[dict]:
    gates = await _pending(api)
    await asyncio.gather(*(
        api.post(f"/api/v1/workflows/{g['run_id']}/approvals/{g['id']}/approve", json={})
        for g in gates))
    return gates


async def run(workdir: Path, sz: Sizes) -> dict:
    async with running_daemon(workdir, "parked", sz.post_connections) as (d, api):
        await api.template(TEMPLATE)
        await api.start_many("gated", WARMUP)
        await api.wait_count("waiting_approval", WARMUP, 60)
        await _approve_all(api)
        await api.wait_count("completed", WARMUP, 60)
        await asyncio.sleep(0.5)
        rss0 = d.rss_mb()
        t0 = time.time()
        await api.start_many("gated", sz.parked)
        started_s = time.time() - t0
        await api.wait_count("waiting_approval", sz.parked, timeout=600, interval=0.2)
        await asyncio.sleep(0.5)
        rss1 = d.rss_mb()
        live = (await api.health())["live_runners"]
        t1 = time.time()
        gates = await _approve_all(api)
        await api.wait_count("completed", WARMUP + sz.parked, timeout=600, interval=0.1)
        ids = {g["run_id"] for g in gates}
        done = [r for r in await api.all_runs("completed") if r["id"] in ids]
        approve_s = max(ts(r["finished_at"]) for r in done) - t1
        rss2 = d.rss_mb()
    return {"median": {"rss_before_mb": rss0, "rss_parked_mb": rss1,
                       "extra_rss_mb": rss1 - rss0, "live_runners": live,
                       "start_s": started_s, "approve_all_s": approve_s,
                       "approvals_per_s": len(gates) / approve_s, "rss_after_mb": rss2},
            "parked": sz.parked}
